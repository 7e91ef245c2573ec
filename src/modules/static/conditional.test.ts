import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  evaluatePreconditions,
  httpDate,
  matchesAny,
  parseHttpDate,
  rangeStillValid,
  validators,
} from './conditional.ts'

const MTIME = Date.UTC(2024, 0, 2, 3, 4, 5, 678)
const v = validators(500, MTIME)
const LM = httpDate(v.lastModified)
const EARLIER = httpDate(v.lastModified - 1000)
const LATER = httpDate(v.lastModified + 1000)

describe('validators', () => {
  it('makes a strong ETag from size and mtime, distinct per coding', () => {
    assert.equal(v.etag, `"1f4-${MTIME.toString(16)}"`)
    assert.equal(validators(500, MTIME, 'br').etag, `"1f4-${MTIME.toString(16)}-br"`)
    assert.notEqual(validators(501, MTIME).etag, v.etag)
    assert.notEqual(validators(500, MTIME + 1).etag, v.etag)
  })

  it('truncates Last-Modified to the second', () => {
    assert.equal(v.lastModified, Date.UTC(2024, 0, 2, 3, 4, 5))
    assert.equal(LM, 'Tue, 02 Jan 2024 03:04:05 GMT')
  })
})

describe('evaluatePreconditions (RFC 9110 §13.2.2)', () => {
  const eval_ = (h: Parameters<typeof evaluatePreconditions>[1], method = 'GET') =>
    evaluatePreconditions(method, h, v)

  it('If-None-Match: weak comparison, lists and * → 304; otherwise proceed', () => {
    assert.equal(eval_({ ifNoneMatch: v.etag }), 304)
    assert.equal(eval_({ ifNoneMatch: `W/${v.etag}` }), 304)
    assert.equal(eval_({ ifNoneMatch: `"x", ${v.etag}` }), 304)
    assert.equal(eval_({ ifNoneMatch: '*' }), 304)
    assert.equal(eval_({ ifNoneMatch: '"other"' }), 'proceed')
    assert.equal(eval_({ ifNoneMatch: v.etag }, 'HEAD'), 304)
    assert.equal(eval_({ ifNoneMatch: v.etag }, 'DELETE'), 412)
  })

  it('If-Modified-Since → 304 when not modified since; ignored next to If-None-Match', () => {
    assert.equal(eval_({ ifModifiedSince: LM }), 304)
    assert.equal(eval_({ ifModifiedSince: LATER }), 304)
    assert.equal(eval_({ ifModifiedSince: EARLIER }), 'proceed')
    assert.equal(eval_({ ifModifiedSince: 'yesterday' }), 'proceed')
    assert.equal(eval_({ ifNoneMatch: '"other"', ifModifiedSince: LM }), 'proceed')
    assert.equal(eval_({ ifModifiedSince: LM }, 'POST'), 'proceed')
  })

  it('If-Match: strong comparison → 412 when none matches', () => {
    assert.equal(eval_({ ifMatch: v.etag }), 'proceed')
    assert.equal(eval_({ ifMatch: '*' }), 'proceed')
    assert.equal(eval_({ ifMatch: `"a", ${v.etag}` }), 'proceed')
    assert.equal(eval_({ ifMatch: `W/${v.etag}` }), 412)
    assert.equal(eval_({ ifMatch: '"other"' }), 412)
  })

  it('If-Unmodified-Since → 412 when modified since; ignored next to If-Match', () => {
    assert.equal(eval_({ ifUnmodifiedSince: LM }), 'proceed')
    assert.equal(eval_({ ifUnmodifiedSince: EARLIER }), 412)
    assert.equal(eval_({ ifMatch: v.etag, ifUnmodifiedSince: EARLIER }), 'proceed')
    assert.equal(eval_({ ifUnmodifiedSince: 'garbage' }), 'proceed')
  })

  it('If-Match failing wins over If-None-Match', () => {
    assert.equal(eval_({ ifMatch: '"other"', ifNoneMatch: v.etag }), 412)
  })
})

describe('rangeStillValid (If-Range)', () => {
  it('matches the current ETag strongly, or Last-Modified exactly', () => {
    assert.equal(rangeStillValid(undefined, v), true)
    assert.equal(rangeStillValid(v.etag, v), true)
    assert.equal(rangeStillValid(`W/${v.etag}`, v), false)
    assert.equal(rangeStillValid('"other"', v), false)
    assert.equal(rangeStillValid(LM, v), true)
    assert.equal(rangeStillValid(LATER, v), false)
    assert.equal(rangeStillValid('nonsense', v), false)
  })
})

describe('matchesAny', () => {
  it('scans entity-tags that contain commas', () => {
    assert.equal(matchesAny('"a,b", "c"', '"a,b"', true), true)
    assert.equal(matchesAny('"a', '"a"', false), false)
  })
})

describe('parseHttpDate', () => {
  it('reads the three HTTP-date forms as GMT and nothing else', () => {
    const t = Date.UTC(1994, 10, 6, 8, 49, 37)
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), t)
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), t)
    assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), t)
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 +0500'), undefined)
    assert.equal(parseHttpDate('2024-01-01'), undefined)
    assert.equal(parseHttpDate(''), undefined)
  })
})
