import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HeaderList } from '../../core/header-list.ts'
import { contentLength, skipReason } from './eligibility.ts'
import { mediaType, TypeMatcher } from './media-types.ts'
import { DEFAULT_TYPES } from '../../config/modules/compress.ts'

const policy = { types: new TypeMatcher(DEFAULT_TYPES), minSize: 1024 }

function check(headers: string[], status = 200, method = 'GET') {
  return skipReason(method, status, new HeaderList(headers), policy)
}

const HTML = ['Content-Type', 'text/html; charset=utf-8']

describe('skipReason', () => {
  it('lets a listed type of unknown length through', () => {
    assert.equal(check(HTML), undefined)
  })
  it('lets a listed type at or above minSize through', () => {
    assert.equal(check([...HTML, 'Content-Length', '1024']), undefined)
  })
  it('skips a body below minSize', () => {
    assert.equal(check([...HTML, 'Content-Length', '1023']), 'too-small')
    assert.equal(check([...HTML, 'Content-Length', '0']), 'too-small')
  })
  it('skips HEAD requests', () => {
    assert.equal(check(HTML, 200, 'HEAD'), 'head-request')
  })
  it('skips statuses without content', () => {
    for (const s of [101, 103, 204, 304]) assert.equal(check(HTML, s), 'no-body-status', String(s))
  })
  it('compresses other statuses with content', () => {
    for (const s of [201, 301, 404, 500]) assert.equal(check(HTML, s), undefined, String(s))
  })
  it('skips partial content', () => {
    assert.equal(check(HTML, 206), 'partial-content')
    assert.equal(check([...HTML, 'Content-Range', 'bytes 0-9/100']), 'partial-content')
  })
  it('skips a body that already has a content coding', () => {
    assert.equal(check([...HTML, 'Content-Encoding', 'gzip']), 'already-encoded')
    assert.equal(check([...HTML, 'content-encoding', 'br']), 'already-encoded')
  })
  it('treats Content-Encoding: identity as unencoded', () => {
    assert.equal(check([...HTML, 'Content-Encoding', 'identity']), undefined)
  })
  it('honours Cache-Control: no-transform in any field line and position', () => {
    assert.equal(check([...HTML, 'Cache-Control', 'no-transform']), 'no-transform')
    assert.equal(check([...HTML, 'Cache-Control', 'public, No-Transform, max-age=60']), 'no-transform')
    assert.equal(check([...HTML, 'Cache-Control', 'public', 'cache-control', 'no-transform']), 'no-transform')
    assert.equal(check([...HTML, 'Cache-Control', 'no-transformation']), undefined)
  })
  it('skips types not listed, and responses without a type', () => {
    assert.equal(check(['Content-Type', 'image/png']), 'type-not-listed')
    assert.equal(check(['Content-Type', 'application/octet-stream']), 'type-not-listed')
    assert.equal(check([]), 'type-not-listed')
  })
})

describe('TypeMatcher with the default types', () => {
  const m = new TypeMatcher(DEFAULT_TYPES)
  const yes = [
    'text/html',
    'text/css',
    'text/plain',
    'text/csv',
    'application/json',
    'application/problem+json',
    'application/ld+json',
    'application/javascript',
    'application/xml',
    'application/atom+xml',
    'application/wasm',
    'image/svg+xml',
  ]
  const no = [
    'text/event-stream',
    'image/png',
    'image/jpeg',
    'video/mp4',
    'application/octet-stream',
    'application/zip',
    'application/gzip',
    'font/woff2',
    'application/x-ndjson',
    'application/+json',
    '',
  ]
  for (const t of yes) it(`compresses ${t}`, () => assert.equal(m.matches(t), true))
  for (const t of no) it(`leaves ${t || '(none)'}`, () => assert.equal(m.matches(t), false))
})

describe('TypeMatcher patterns', () => {
  it('matches `*/*` everything but event streams', () => {
    const m = new TypeMatcher(['*/*'])
    assert.equal(m.matches('video/mp4'), true)
    assert.equal(m.matches('text/event-stream'), false)
  })
  it('matches event streams when they are listed by name', () => {
    assert.equal(new TypeMatcher(['text/*', 'text/event-stream']).matches('text/event-stream'), true)
  })
  it('matches `*/*+json` suffixes under any type', () => {
    const m = new TypeMatcher(['*/*+json'])
    assert.equal(m.matches('application/vnd.api+json'), true)
    assert.equal(m.matches('application/json'), false)
  })
})

describe('mediaType', () => {
  it('drops parameters and lower-cases', () => {
    assert.equal(mediaType('Text/HTML; Charset=UTF-8'), 'text/html')
    assert.equal(mediaType(' application/json '), 'application/json')
    assert.equal(mediaType(undefined), '')
  })
})

describe('contentLength', () => {
  it('reads a length, or -1 when absent or unusable', () => {
    assert.equal(contentLength(new HeaderList(['Content-Length', '42'])), 42)
    assert.equal(contentLength(new HeaderList([])), -1)
    assert.equal(contentLength(new HeaderList(['Content-Length', 'x'])), -1)
  })
})
