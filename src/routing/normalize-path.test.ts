import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { GatewayError } from '../core/errors.ts'
import { normalizeTarget, type PathOptions } from './normalize-path.ts'

const DEFAULTS: PathOptions = { mergeSlashes: true, encodedSlashes: 'reject' }
const DECODE: PathOptions = { mergeSlashes: true, encodedSlashes: 'decode' }

function norm(target: string, options = DEFAULTS): string {
  const r = normalizeTarget(target, options)
  if (r instanceof GatewayError) return `400 ${r.message}`
  return r
}

describe('normalizeTarget', () => {
  it('resolves . and .. segments (RFC 3986 §5.2.4), leaving the query alone', () => {
    assert.equal(norm('/a/b/../c'), '/a/c')
    assert.equal(norm('/a/./b'), '/a/b')
    assert.equal(norm('/a/b/..'), '/a/')
    assert.equal(norm('/a/.'), '/a/')
    assert.equal(norm('/..'), '/')
    assert.equal(norm('/../../x'), '/x')
    assert.equal(norm('/public/../admin?next=/../x'), '/admin?next=/../x')
  })

  it('decodes unreserved characters, so %2e is a dot and %61 a letter', () => {
    assert.equal(norm('/public/%2e%2E/admin'), '/admin')
    assert.equal(norm('/public/.%2e/admin'), '/admin')
    assert.equal(norm('/%61dmin'), '/admin')
    assert.equal(norm('/%41%42%7e%5F%2D%30'), '/AB~_-0')
  })

  it('keeps other escapes, with uppercase hex, and leaves the query encoded', () => {
    assert.equal(norm('/a%20b'), '/a%20b')
    assert.equal(norm('/a%2fb?x=%2f'.replace('%2fb', '%3fb')), '/a%3Fb?x=%2f')
    assert.equal(norm('/%252e%252e/admin'), '/%252e%252e/admin')
    assert.equal(norm('/caf%c3%a9'), '/caf%C3%A9')
  })

  it('merges repeated slashes unless told not to', () => {
    assert.equal(norm('//admin'), '/admin')
    assert.equal(norm('/internal//secret'), '/internal/secret')
    assert.equal(norm('/a///b/?q=//x'), '/a/b/?q=//x')
    assert.equal(norm('//admin', { ...DEFAULTS, mergeSlashes: false }), '//admin')
  })

  it('refuses encoded slashes and backslashes by default', () => {
    for (const t of ['/%2fadmin', '/x/..%2fadmin', '/a%2Fb', '/a%5cb', '/a\\b', '/x/..\\admin'])
      assert.match(norm(t), /^400 /, t)
  })

  it('decodes them to / when encodedSlashes is decode, then normalises', () => {
    assert.equal(norm('/%2fadmin', DECODE), '/admin')
    assert.equal(norm('/x/..%2fadmin', DECODE), '/admin')
    assert.equal(norm('/x/..%5Cadmin', DECODE), '/admin')
    assert.equal(norm('/x\\..\\admin', DECODE), '/admin')
  })

  it('refuses malformed escapes and an encoded NUL', () => {
    for (const t of ['/%zz', '/a%4', '/a%', '/%g0', '/a%00b']) assert.match(norm(t), /^400 /, t)
    for (const t of ['/a%00b', '/%zz']) assert.match(norm(t, DECODE), /^400 /, t)
  })

  it('returns the very same string when there is nothing to change', () => {
    for (const t of ['/', '/a/b', '/a/.b/c.', '/a/b..', '/x?y=/../z', '/x?y=%zz', '*', 'example.com:443']) {
      assert.equal(normalizeTarget(t, DEFAULTS), t)
    }
  })
})
