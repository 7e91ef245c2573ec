import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { belowPrefix, directoryLocation, parseRequestPath } from './resolve.ts'

describe('parseRequestPath', () => {
  it('splits a plain path into segments and notes a trailing slash', () => {
    assert.deepEqual(parseRequestPath('/css/site.css', false), {
      kind: 'path',
      segments: ['css', 'site.css'],
      directory: false,
    })
    assert.deepEqual(parseRequestPath('/docs/', false), { kind: 'path', segments: ['docs'], directory: true })
    assert.deepEqual(parseRequestPath('', false), { kind: 'path', segments: [], directory: false })
    assert.deepEqual(parseRequestPath('/', false), { kind: 'path', segments: [], directory: true })
  })

  it('decodes exactly once', () => {
    assert.deepEqual(parseRequestPath('/a%20b.txt', false), {
      kind: 'path',
      segments: ['a b.txt'],
      directory: false,
    })
    // %252e%252e decodes to the literal name `%2e%2e`, which is not `..`.
    assert.deepEqual(parseRequestPath('/%252e%252e/x', false), {
      kind: 'path',
      segments: ['%2e%2e', 'x'],
      directory: false,
    })
    assert.deepEqual(parseRequestPath('/caf%C3%A9', false), {
      kind: 'path',
      segments: ['café'],
      directory: false,
    })
  })

  it('merges empty segments', () => {
    assert.deepEqual(parseRequestPath('//a///b', false), {
      kind: 'path',
      segments: ['a', 'b'],
      directory: false,
    })
  })

  for (const path of [
    '/../secret',
    '/..',
    '/a/../b',
    '/./a',
    '/%2e%2e/secret',
    '/%2E%2E/secret',
    '/..%2fsecret',
    '/%2e%2e%2fsecret',
    '/a%2f..%2f..%2fsecret',
    '/.%2e/secret',
    '/..\\secret',
    '/..%5csecret',
    '/%5c..%5csecret',
    '/a\\b',
    '/index.html%00.txt',
    '/%00',
  ]) {
    it(`refuses ${path}`, () => {
      assert.deepEqual(parseRequestPath(path, false), { kind: 'refused' })
      assert.deepEqual(parseRequestPath(path, true), { kind: 'refused' })
    })
  }

  it('refuses dot-files unless allowed, and `.`/`..` even then', () => {
    for (const path of ['/.env', '/.git/config', '/a/.htpasswd', '/%2eenv']) {
      assert.deepEqual(parseRequestPath(path, false), { kind: 'refused' }, path)
      assert.equal(parseRequestPath(path, true).kind, 'path', path)
    }
    assert.deepEqual(parseRequestPath('/a/./b', true), { kind: 'refused' })
    assert.deepEqual(parseRequestPath('/a/../b', true), { kind: 'refused' })
  })

  it('calls invalid percent-encoding and invalid UTF-8 malformed', () => {
    for (const path of ['/%', '/%zz', '/a%2', '/%c0%ae%c0%ae/secret', '/%ff'])
      assert.deepEqual(parseRequestPath(path, false), { kind: 'malformed' }, path)
  })
})

describe('belowPrefix', () => {
  it('removes the route prefix on its boundary', () => {
    assert.equal(belowPrefix('/assets/a.js', '/assets'), '/a.js')
    assert.equal(belowPrefix('/assets', '/assets'), '')
    assert.equal(belowPrefix('/assets/', '/assets'), '/')
    assert.equal(belowPrefix('/assets/a.js', '/assets/'), '/a.js')
    assert.equal(belowPrefix('/assets/', '/assets/'), '/')
  })

  it('keeps the path when there is no prefix to strip', () => {
    assert.equal(belowPrefix('/a.js', undefined), '/a.js')
    assert.equal(belowPrefix('/a.js', '/'), '/a.js')
    assert.equal(belowPrefix('/other/a.js', '/assets'), '/other/a.js')
  })
})

describe('directoryLocation', () => {
  it('appends the slash and keeps the query', () => {
    assert.equal(directoryLocation('/assets/docs', ''), '/assets/docs/')
    assert.equal(directoryLocation('/assets/docs', 'v=1'), '/assets/docs/?v=1')
  })

  it('never makes a scheme-relative URL', () => {
    assert.equal(directoryLocation('//evil.example/x', ''), '/evil.example/x/')
    assert.equal(directoryLocation('///evil.example', ''), '/evil.example/')
  })
})
