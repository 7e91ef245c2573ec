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
 * - Content-Encoding is left as declared: the transform sees the body as
 *   encoded (gzip bytes for a gzip body) and must emit bytes in the same
 *   coding. It is not decoded for it; to work on decoded bytes, make the
 *   transform a pipeline that decodes, changes and encodes again (zlib's
 *   streams), or use rewriteRequestBody, which decodes.
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
import type { Duplex } from 'node:stream'
import type { Session } from '../core/session.ts'

/**
 * transformRequestBody sends the request body of `session` upstream through
 * `transform`. Call it from onRequestHead or onRequest. Returns false,
 * changing nothing, when the request has no body, when a transform is
 * already set (compose them into one), or once the request went towards an
 * upstream (an onUpstreamRequest hook is too late: the body may be under
 * way).
 */
export function transformRequestBody(session: Session, transform: Duplex): boolean {
  const head = session.head
  if (!head.chunked && head.contentLength <= 0) return false
  if (session.requestTransform !== undefined || session.attempts > 0) return false
  session.requestTransform = transform
  return true
}
