import assert from 'node:assert/strict'
import { test } from 'node:test'
import { gunzipSync, gzipSync } from 'node:zlib'
import { HeaderList } from '../core/header-list.ts'
import type { ResponseHeadView } from '../core/hooks.ts'
import { rewriteBody, rewriteRequestBody } from './whole-body.ts'
import { postSession } from '../../test/helpers/post-session.ts'

test('rewriteBody: framing, validator and digests of the old body removed; the result decoded and rewritten', async () => {
  const res: ResponseHeadView = {
    status: 200,
    reason: 'OK',
    headers: new HeaderList([
      ...['Content-Encoding', 'gzip', 'Content-Length', '30', 'ETag', '"v1"'],
      ...['Content-Digest', 'sha-256=:x:', 'Repr-Digest', 'sha-256=:y:', 'Content-MD5', 'z', 'X-Kept', '1'],
    ]),
  }
  assert.equal(
    rewriteBody(res, (b) => b.toString().toUpperCase()),
    true,
  )
  assert.deepEqual(res.headers.raw, ['X-Kept', '1'])
  const out: Buffer[] = []
  res.bodyTransform!.on('data', (d: Buffer) => out.push(d))
  const ended = new Promise((r) => res.bodyTransform!.on('end', r))
  res.bodyTransform!.end(gzipSync('hello'))
  await ended
  assert.equal(Buffer.concat(out).toString(), 'HELLO')
})

test('rewriteRequestBody: only for a body in a coding it decodes; the rewrite decodes, rewrites, re-encodes', async () => {
  assert.equal(
    rewriteRequestBody(postSession(-1), (b) => b),
    false,
    'no body',
  )
  assert.equal(
    rewriteRequestBody(postSession(0), (b) => b),
    false,
    'an empty body',
  )
  const chain = postSession(5, { fields: ['Content-Encoding', 'gzip, br'] })
  assert.equal(
    rewriteRequestBody(chain, (b) => b),
    false,
    'a chain of codings',
  )
  assert.equal(chain.requestBody, undefined)

  const chunked = postSession(-1, { chunked: true, fields: ['Content-Encoding', 'GZIP'] })
  assert.equal(
    rewriteRequestBody(chunked, (b) => `${b}!`, { reencode: true }),
    true,
  )
  assert.equal(chunked.requestBody!.encoding, 'GZIP', 'the field as sent, when encoded again')
  const again = await chunked.requestBody!.run(gzipSync('hi'))
  assert.equal(gunzipSync(again).toString(), 'hi!')

  const plain = postSession(5, { fields: ['Content-Encoding', 'gzip'] })
  rewriteRequestBody(plain, (b) => `${b}!`, { maxSize: 10 })
  assert.equal(plain.requestBody!.encoding, undefined, 'sent unencoded')
  assert.equal((await plain.requestBody!.run(gzipSync('hi'))).toString(), 'hi!')
  await assert.rejects(plain.requestBody!.run(Buffer.from('nope')), { code: 'MALFORMED_REQUEST' })
  await assert.rejects(plain.requestBody!.run(gzipSync('x'.repeat(11))), { code: 'BODY_TOO_LARGE' })
})
