/**
 * The whole-body hook: for an interceptor that wants the response body as
 * one Buffer rather than a stream. Called from an onResponse hook (of any
 * session: forward, mitm or reverse), it sets the response's bodyTransform
 * to one that collects the body up to a cap, decodes its Content-Encoding
 * (gzip, deflate, br), hands it to `rewrite`, and sends what that returns
 * unencoded: Content-Encoding, Content-Length and ETag are removed (the
 * exchange re-frames the body as chunked, RFC 9112 §7.1), so the fields
 * always describe the bytes sent. With `reencode`, the result is encoded
 * again in the origin's coding and Content-Encoding kept (RFC 9110 §8.4):
 * a client that was sent a compressed body still is. A body over the cap, or one that does not
 * decode, fails the response (the connection closes: never a truncated or
 * mislabelled success).
 *
 * ```ts
 * onResponse(session, res) {
 *   if (session.source === 'mitm' && res.headers.get('content-type')?.startsWith('text/html'))
 *     rewriteBody(res, (html) => html.toString().replace('</body>', '<p>seen by portcullis</p></body>'))
 * }
 * ```
 * @experimental
 */
import { Transform } from 'node:stream'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import type { MaybePromise, ResponseHeadView } from '../core/hooks.ts'
import { trimOws } from '../http1/fields.ts'

const DECODERS: Record<string, (b: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>> = {
  identity: async (b) => b,
  gzip: promisify(zlib.gunzip) as never,
  'x-gzip': promisify(zlib.gunzip) as never,
  deflate: promisify(zlib.inflate) as never,
  br: promisify(zlib.brotliDecompress) as never,
}

const ENCODERS: Record<string, (b: Buffer) => Promise<Buffer>> = {
  gzip: promisify(zlib.gzip) as never,
  'x-gzip': promisify(zlib.gzip) as never,
  deflate: promisify(zlib.deflate) as never,
  br: promisify(zlib.brotliCompress) as never,
}

/** Options of rewriteBody. */
export interface WholeBodyOptions {
  /** Largest body (encoded, and decoded) handed to the hook; default 10 MiB. */
  maxSize?: number
  /** Encode the result again in the origin's Content-Encoding (default: sent unencoded). */
  reencode?: boolean
}

/**
 * rewriteBody replaces the body of `res` with `rewrite(decodedBody)`.
 * Returns false, changing nothing, when the body's coding is not one it can
 * decode (a chain of codings, or an unknown one).
 */
export function rewriteBody(
  res: ResponseHeadView,
  rewrite: (body: Buffer) => MaybePromise<Buffer | string>,
  options: WholeBodyOptions = {},
): boolean {
  const coding = trimOws(res.headers.get('content-encoding') ?? 'identity').toLowerCase()
  const decode = Object.hasOwn(DECODERS, coding) ? DECODERS[coding]! : undefined
  if (decode === undefined) return false
  const max = options.maxSize ?? 10 * 1024 * 1024
  const encode = options.reencode && Object.hasOwn(ENCODERS, coding) ? ENCODERS[coding]! : undefined
  // The body changes: its length and validator no longer hold; its coding only if it is re-applied.
  for (const name of ['content-length', 'etag']) res.headers.delete(name)
  if (encode === undefined) res.headers.delete('content-encoding')
  const chunks: Buffer[] = []
  let size = 0
  res.bodyTransform = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length
      if (size > max) return done(new Error(`body over the whole-body limit of ${max} bytes`))
      chunks.push(chunk)
      done()
    },
    flush(done) {
      decode(Buffer.concat(chunks), { maxOutputLength: max })
        .then((body) => rewrite(body))
        .then((out) => (typeof out === 'string' ? Buffer.from(out) : out))
        .then((out) => (encode === undefined ? out : encode(out)))
        .then((out) => done(null, out), done)
    },
  })
  return true
}
