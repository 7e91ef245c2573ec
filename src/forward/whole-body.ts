/**
 * The whole-body hooks: for an interceptor that wants a body as one Buffer
 * rather than a stream, with a size cap, its Content-Encoding decoded for
 * the hook, and the framing fields kept true to the bytes sent. Both work
 * on any session (forward, mitm or reverse).
 *
 * - `rewriteBody(res, fn)`, from an onResponse hook: sets the response's
 *   bodyTransform to one that collects the body up to a cap, decodes its
 *   Content-Encoding (gzip, deflate, br), hands it to `fn`, and sends what
 *   that returns unencoded: Content-Encoding, Content-Length, ETag and the
 *   digests of the old body (Content-Digest, Repr-Digest, Digest,
 *   Content-MD5) are removed (the exchange re-frames the body as chunked,
 *   RFC 9112 §7.1), so the fields always describe the bytes sent. With `reencode`, the result
 *   is encoded again in the origin's coding and Content-Encoding kept (RFC
 *   9110 §8.4): a client that was sent a compressed body still is. A body
 *   over the cap, or one that does not decode, fails the response (the
 *   connection closes: never a truncated or mislabelled success).
 * - `rewriteRequestBody(session, fn)`, from an onRequest or onUpstreamRequest
 *   hook: the exchange reads the whole request body before it goes upstream
 *   (src/proxy/request-body.ts), decodes it, hands it to `fn`, and sends the
 *   result with its own Content-Length (a known length: origins that refuse
 *   chunked uploads take it), Content-Encoding dropped or, with `reencode`,
 *   re-applied, digests of the old body removed. A body over the cap (as received or decoded) is answered 413
 *   `BODY_TOO_LARGE`, one that does not decode 400 `MALFORMED_REQUEST`: the upstream never sees a
 *   truncated or mislabelled body. Retries send the rewritten body again.
 *
 * ```ts
 * onResponse(session, res) {
 *   if (session.source === 'mitm' && res.headers.get('content-type')?.startsWith('text/html'))
 *     rewriteBody(res, (html) => html.toString().replace('</body>', '<p>seen by portcullis</p></body>'))
 * }
 * onRequest(session) {
 *   if (session.header('content-type') === 'application/json')
 *     rewriteRequestBody(session, (body) => JSON.stringify({ ...JSON.parse(body.toString()), seen: true }))
 * }
 * ```
 * @experimental
 */
import { Transform } from 'node:stream'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { GatewayError } from '../core/errors.ts'
import type { MaybePromise, ResponseHeadView } from '../core/hooks.ts'
import type { Session } from '../core/session.ts'
import { trimOws } from '../http1/fields.ts'
import { BODY_DIGEST_FIELDS } from '../proxy/request-body.ts'

type Decoder = (b: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>
type Encoder = (b: Buffer) => Promise<Buffer>

const DECODERS: Record<string, Decoder> = {
  identity: async (b) => b,
  gzip: promisify(zlib.gunzip) as never,
  'x-gzip': promisify(zlib.gunzip) as never,
  deflate: promisify(zlib.inflate) as never,
  br: promisify(zlib.brotliDecompress) as never,
}

const ENCODERS: Record<string, Encoder> = {
  gzip: promisify(zlib.gzip) as never,
  'x-gzip': promisify(zlib.gzip) as never,
  deflate: promisify(zlib.deflate) as never,
  br: promisify(zlib.brotliCompress) as never,
}

const DEFAULT_MAX = 10 * 1024 * 1024

/** Options of rewriteBody and rewriteRequestBody. */
export interface WholeBodyOptions {
  /** Largest body (encoded, and decoded) handed to the hook; default 10 MiB. */
  maxSize?: number
  /** Encode the result again in the body's Content-Encoding (default: sent unencoded). */
  reencode?: boolean
}

/** The hook a whole body is handed to; what it returns is the new body. */
export type WholeBodyRewrite = (body: Buffer) => MaybePromise<Buffer | string>

/** A body's coding as the whole-body hooks handle it: how to decode it, and to encode the result (undefined: sent unencoded). */
interface Codec {
  coding: string
  decode: Decoder
  encode: Encoder | undefined
}

/** codecFor: the codec of a Content-Encoding value, or undefined for a chain of codings or an unknown one. */
function codecFor(field: string | undefined, reencode: boolean | undefined): Codec | undefined {
  const coding = trimOws(field ?? 'identity').toLowerCase()
  if (!Object.hasOwn(DECODERS, coding)) return undefined
  const encode = reencode && Object.hasOwn(ENCODERS, coding) ? ENCODERS[coding] : undefined
  return { coding, decode: DECODERS[coding]!, encode }
}

/**
 * rewriteWhole decodes `encoded` (bounded by `max`), rewrites it, and
 * encodes the result when the codec says so. A decode failure rejects with
 * `undecodable`'s error; the hook's own failure as it threw.
 */
async function rewriteWhole(
  encoded: Buffer,
  codec: Codec,
  rewrite: WholeBodyRewrite,
  max: number,
  undecodable: (err: Error) => Error,
): Promise<Buffer> {
  let body: Buffer
  try {
    body = await codec.decode(encoded, { maxOutputLength: max })
  } catch (err) {
    throw undecodable(err as Error)
  }
  const out = await rewrite(body)
  const bytes = typeof out === 'string' ? Buffer.from(out) : out
  return codec.encode === undefined ? bytes : codec.encode(bytes)
}

/**
 * rewriteBody replaces the body of `res` with `rewrite(decodedBody)`.
 * Returns false, changing nothing, when the body's coding is not one it can
 * decode (a chain of codings, or an unknown one).
 */
export function rewriteBody(
  res: ResponseHeadView,
  rewrite: WholeBodyRewrite,
  options: WholeBodyOptions = {},
): boolean {
  const codec = codecFor(res.headers.get('content-encoding'), options.reencode)
  if (codec === undefined) return false
  const max = options.maxSize ?? DEFAULT_MAX
  // The body changes: its length and validator no longer hold; its coding only if it is re-applied.
  for (const name of ['content-length', 'etag', ...BODY_DIGEST_FIELDS]) res.headers.delete(name)
  if (codec.encode === undefined) res.headers.delete('content-encoding')
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
      rewriteWhole(Buffer.concat(chunks), codec, rewrite, max, (err) => err).then(
        (out) => done(null, out),
        done,
      )
    },
  })
  return true
}

/**
 * rewriteRequestBody replaces the request body of `session` with
 * `rewrite(decodedBody)` before it goes upstream. Call it from onRequest or
 * onUpstreamRequest. Returns false, changing nothing, when the request has
 * no body or a coding it cannot decode. Calling it again for the same
 * request (an onUpstreamRequest hook runs once per try) replaces a rewrite
 * not yet applied, and changes nothing once the body was rewritten: a retry
 * sends that body again.
 */
export function rewriteRequestBody(
  session: Session,
  rewrite: WholeBodyRewrite,
  options: WholeBodyOptions = {},
): boolean {
  const head = session.head
  if (!head.chunked && head.contentLength <= 0) return false
  const field = session.header('content-encoding')
  const codec = codecFor(field, options.reencode)
  if (codec === undefined) return false
  const max = options.maxSize ?? DEFAULT_MAX
  // Decoded past the cap is too large (413) like a body received past it; anything else does not decode (400).
  const undecodable = (err: Error) =>
    (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
      ? new GatewayError('BODY_TOO_LARGE', `request body decodes to more than ${max} bytes`)
      : new GatewayError(
          'MALFORMED_REQUEST',
          `request body does not decode as ${codec.coding}: ${err.message}`,
        )
  session.requestBody = {
    maxSize: max,
    // The field as the client sent it, when the result is encoded again; none otherwise.
    encoding: codec.encode === undefined || codec.coding === 'identity' ? undefined : field,
    run: (body) => rewriteWhole(body, codec, rewrite, max, undecodable),
  }
  return true
}
