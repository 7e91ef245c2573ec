import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { resolveDotSegments } from './dot-segments.ts'

describe('resolveDotSegments', () => {
  it('resolves . and .. segments (RFC 3986 §5.2.4), leaving the query alone', () => {
    assert.equal(resolveDotSegments('/a/b/../c'), '/a/c')
    assert.equal(resolveDotSegments('/a/./b'), '/a/b')
    assert.equal(resolveDotSegments('/a/b/..'), '/a/')
    assert.equal(resolveDotSegments('/a/.'), '/a/')
    assert.equal(resolveDotSegments('/..'), '/')
    assert.equal(resolveDotSegments('/../../x'), '/x')
    assert.equal(resolveDotSegments('/public/../admin?next=/../x'), '/admin?next=/../x')
  })

  it('counts percent-encoded dots as dots', () => {
    assert.equal(resolveDotSegments('/public/%2e%2E/admin'), '/admin')
    assert.equal(resolveDotSegments('/public/.%2e/admin'), '/admin')
  })

  it('returns the very same string when there is nothing to resolve', () => {
    for (const t of ['/', '/a/b', '/a/.b/c.', '/a/b..', '/file%2ejson', '/a%20b', '/x?y=/../z', '*']) {
      assert.equal(resolveDotSegments(t), t)
    }
  })
})
