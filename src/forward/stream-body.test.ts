import assert from 'node:assert/strict'
import { type Duplex, PassThrough, Transform } from 'node:stream'
import { test } from 'node:test'
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib'
import { transformRequestBody } from './stream-body.ts'
import { postSession } from '../../test/helpers/post-session.ts'

test('transformRequestBody: set for a body, once, before any upstream try', () => {
  const none = postSession(-1)
  assert.equal(transformRequestBody(none, new PassThrough()), false, 'no body')
  assert.equal(none.requestTransform, undefined)
  assert.equal(transformRequestBody(postSession(0), new PassThrough()), false, 'an empty body')

  const s = postSession(10)
  const first = new PassThrough()
  assert.equal(transformRequestBody(s, first), true)
  assert.equal(s.requestTransform, first)
  assert.equal(transformRequestBody(s, new PassThrough()), false, 'one transform per request')
  assert.equal(s.requestTransform, first)

  const chunked = postSession(-1, { chunked: true })
  assert.equal(transformRequestBody(chunked, new PassThrough()), true, 'a chunked body')

  const late = postSession(10)
  late.attempts = 1 // an onUpstreamRequest hook: the body may be under way
  assert.equal(transformRequestBody(late, new PassThrough()), false)
  assert.equal(late.requestTransform, undefined)
})

/** through writes `input` into `stream` in two pieces and resolves with what it emits (or rejects with its error). */
function through(stream: Duplex, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = []
    stream.on('data', (d: Buffer) => out.push(d))
    stream.on('end', () => resolve(Buffer.concat(out)))
    stream.on('error', reject)
    stream.write(input.subarray(0, input.length >> 1))
    stream.end(input.subarray(input.length >> 1))
  })
}

const upper = () =>
  new Transform({ transform: (c: Buffer, _e, done) => done(null, c.toString('latin1').toUpperCase()) })

test('decode: the transform sees the body decoded, its output is encoded again in the same coding', async () => {
  const text = 'hello streaming world '.repeat(5000)
  const gz = postSession(10, { fields: ['Content-Encoding', 'gzip'] })
  assert.equal(transformRequestBody(gz, upper(), { decode: true }), true)
  const gzOut = await through(gz.requestTransform!, gzipSync(text))
  assert.equal(gunzipSync(gzOut).toString(), text.toUpperCase())

  const br = postSession(10, { fields: ['Content-Encoding', ' BR '] })
  assert.equal(transformRequestBody(br, upper(), { decode: true }), true)
  const brOut = await through(br.requestTransform!, brotliCompressSync(text))
  assert.equal(brotliDecompressSync(brOut).toString(), text.toUpperCase())

  const bad = postSession(10, { fields: ['Content-Encoding', 'gzip'] })
  transformRequestBody(bad, upper(), { decode: true })
  await assert.rejects(through(bad.requestTransform!, Buffer.from('not gzip at all')), {
    code: 'MALFORMED_REQUEST',
  })

  const failing = postSession(10, { fields: ['Content-Encoding', 'gzip'] })
  const boom = new Transform({ transform: (_c, _e, done) => done(new Error('boom')) })
  transformRequestBody(failing, boom, { decode: true })
  await assert.rejects(through(failing.requestTransform!, gzipSync(text)), { message: 'boom' })

  const chain = postSession(10, { fields: ['Content-Encoding', 'gzip, br'] })
  assert.equal(transformRequestBody(chain, upper(), { decode: true }), false, 'a chain of codings')
  assert.equal(chain.requestTransform, undefined)
  const plain = postSession(10)
  const t = upper()
  transformRequestBody(plain, t, { decode: true })
  assert.equal(plain.requestTransform, t, 'nothing to decode: the transform itself')
  const asSent = postSession(10, { fields: ['Content-Encoding', 'gzip'] })
  const t2 = upper()
  transformRequestBody(asSent, t2)
  assert.equal(asSent.requestTransform, t2, 'without decode: the bytes as sent')
})
