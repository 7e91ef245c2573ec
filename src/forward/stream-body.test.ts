import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import { RequestHead } from '../core/request-head.ts'
import { Session } from '../core/session.ts'
import { transformRequestBody } from './stream-body.ts'

function sessionWith(contentLength: number, chunked = false): Session {
  const head = new RequestHead()
  head.method = 'POST'
  head.target = '/'
  head.contentLength = contentLength
  head.chunked = chunked
  return new Session(head, '127.0.0.1', 1, false, performance.now())
}

test('transformRequestBody: set for a body, once, before any upstream try', () => {
  const none = sessionWith(-1)
  assert.equal(transformRequestBody(none, new PassThrough()), false, 'no body')
  assert.equal(none.requestTransform, undefined)
  assert.equal(transformRequestBody(sessionWith(0), new PassThrough()), false, 'an empty body')

  const s = sessionWith(10)
  const first = new PassThrough()
  assert.equal(transformRequestBody(s, first), true)
  assert.equal(s.requestTransform, first)
  assert.equal(transformRequestBody(s, new PassThrough()), false, 'one transform per request')
  assert.equal(s.requestTransform, first)

  const chunked = sessionWith(-1, true)
  assert.equal(transformRequestBody(chunked, new PassThrough()), true, 'a chunked body')

  const late = sessionWith(10)
  late.attempts = 1 // an onUpstreamRequest hook: the body may be under way
  assert.equal(transformRequestBody(late, new PassThrough()), false)
  assert.equal(late.requestTransform, undefined)
})
