/**
 * The streaming request body transform: for an interceptor that wants to
 * change a request body as it flows (replace bytes, filter, scan) without
 * holding it whole. The response side's counterpart is
 * `ResponseHeadView.bodyTransform`; the whole-body hooks are in
 * whole-body.ts. It works on any session (forward, mitm or reverse).
 *
 * `transformRequestBody(session, transform)`, from an onRequestHead or
 * onRequest hook: every request body byte, chunked framing removed (as
 * `session.requestBodyTap` sees it), is written into `transform`, and what
 * it emits goes upstream as it comes (src/proxy/request-transform.ts):
 *
 * - always chunked (RFC 9112 §7.1), Content-Length removed: the new length
 *   is not known ahead. An upstream that cannot take a chunked request
 *   (HTTP/1.0) is out of scope; use rewriteRequestBody, which sends a
 *   Content-Length, for those.
 * - the client's trailers follow the body, minus digests and fields no
 *   trailer may be (as the whole-body rewrite keeps them); Content-Digest,
 *   Repr-Digest, Digest and Content-MD5 of the old body are removed.
 * - Content-Encoding is left as declared. By default the transform sees
 *   the body as encoded (gzip bytes for a gzip body) and must emit bytes in
 *   the same coding. With `{ decode: true }` a body in one coding it knows
 *   (gzip, x-gzip, deflate, br) is decoded for the transform and what it
 *   emits encoded again in that coding, as a stream (gzip/deflate at zlib's
 *   default level, br at quality 4: fast enough to stream); a body that does
 *   not decode fails the request with 400 `MALFORMED_REQUEST`. A chain of
 *   codings or an unknown one: false, nothing set.
 * - backpressure holds: the client is paused while the transform is full,
 *   the transform while the upstream is.
 * - a transform that errors fails the request (500 `HOOK_FAILED` before a
 *   response head). A retry sends the transformed body again when the
 *   route's retries kept it (`retries.bodyBuffer`).
 * - the tap and a HAR capture see the body as the client sent it; with
 *   rewriteRequestBody as well, the whole-body hook gets the transformed
 *   bytes.
 *
 * ```ts
 * onRequest(session) {
 *   if (session.via === 'mitm' && session.header('content-type') === 'text/plain')
 *     transformRequestBody(session, new Transform({
 *       transform(chunk: Buffer, _enc, done) { done(null, chunk.toString('latin1').toUpperCase()) },
 *     }))
 * }
 * ```
 * @experimental
 */
import { Duplex, pipeline, type Transform } from 'node:stream'
import zlib from 'node:zlib'
import { GatewayError } from '../core/errors.ts'
import type { Session } from '../core/session.ts'
import { trimOws } from '../http1/fields.ts'

/** Options of transformRequestBody. */
export interface RequestTransformOptions {
  /** Decode the body's Content-Encoding for the transform and encode its output again (default: the bytes as sent). */
  decode?: boolean
}

/** The stream codecs `decode` knows: a decoder and an encoder per coding. */
const STREAM_CODECS: Record<string, [() => Transform, () => Transform]> = {
  gzip: [zlib.createGunzip, zlib.createGzip],
  'x-gzip': [zlib.createGunzip, zlib.createGzip],
  deflate: [zlib.createInflate, zlib.createDeflate],
  br: [
    zlib.createBrotliDecompress,
    () => zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } }),
  ],
}

/**
 * Decoded runs `inner` between a decoder and an encoder as one Duplex:
 * written bytes are decoded into `inner`, what it emits is encoded and read
 * from here. Backpressure passes through: a write waits for the decoder's
 * drain, the encoder pauses while this side's reader is full.
 */
class Decoded extends Duplex {
  private readonly decoder: Transform
  private readonly encoder: Transform

  constructor(decoder: Transform, inner: Duplex, encoder: Transform, coding: string) {
    super()
    this.decoder = decoder
    this.encoder = encoder
    // Which stream failed first: the pipeline then destroys the others with the same error.
    let first: Duplex | undefined
    for (const s of [decoder, inner, encoder]) s.once('error', () => (first ??= s))
    pipeline(decoder, inner, encoder, (err) => {
      if (err == null || this.destroyed) return
      const why = `request body does not decode as ${coding}: ${err.message}`
      this.destroy(first === decoder ? new GatewayError('MALFORMED_REQUEST', why) : err)
    })
    encoder.on('data', (b: Buffer) => {
      if (!this.push(b)) encoder.pause()
    })
    encoder.on('end', () => this.push(null))
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.decoder.write(chunk)) done()
    else this.decoder.once('drain', () => done())
  }

  override _final(done: (err?: Error | null) => void): void {
    this.decoder.end()
    done()
  }

  override _read(): void {
    this.encoder.resume()
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.decoder.destroy()
    this.encoder.destroy()
    done(err)
  }
}

/**
 * transformRequestBody sends the request body of `session` upstream through
 * `transform`. Call it from onRequestHead or onRequest. Returns false,
 * changing nothing, when the request has no body, when a transform is
 * already set (compose them into one), once the request went towards an
 * upstream (an onUpstreamRequest hook is too late: the body may be under
 * way), or with `decode` for a coding it cannot decode.
 */
export function transformRequestBody(
  session: Session,
  transform: Duplex,
  options: RequestTransformOptions = {},
): boolean {
  const head = session.head
  if (!head.chunked && head.contentLength <= 0) return false
  if (session.requestTransform !== undefined || session.attempts > 0) return false
  let stream = transform
  const field = session.header('content-encoding')
  if (options.decode && field !== undefined) {
    const coding = trimOws(field).toLowerCase()
    if (coding !== 'identity') {
      if (!Object.hasOwn(STREAM_CODECS, coding)) return false
      const [decoder, encoder] = STREAM_CODECS[coding]!
      stream = new Decoded(decoder(), transform, encoder(), coding)
    }
  }
  session.requestTransform = stream
  return true
}
