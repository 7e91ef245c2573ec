/**
 * The request side of the whole-body hook (rewriteRequestBody in
 * src/forward/whole-body.ts): the exchange reads the whole request body
 * here instead of streaming it upstream, up to the rewrite's cap, then runs
 * the rewrite and sends its result whole, framed by Content-Length.
 *
 * - A body over the cap is answered 413 `BODY_TOO_LARGE` at once; one the
 *   rewrite cannot decode 400 (its error); a hook that throws 500
 *   `HOOK_FAILED`. The upstream never sees a truncated body.
 * - The new body has a known length, so it goes with Content-Length, not
 *   chunked (RFC 9112 §6.2), also to origins that refuse chunked uploads;
 *   the client's Transfer-Encoding goes. Except when the client's chunked
 *   body ended with trailer fields (RFC 9110 §6.5, RFC 9112 §7.1.2): only a
 *   chunked body carries them, so the new body goes chunked with them (the
 *   client sent chunked, so the origin would have got chunked anyway). Of
 *   those, the ones that describe the old body's bytes (BODY_DIGEST_FIELDS)
 *   and the ones no trailer may be (NOT_TRAILERS) are dropped; a retry sends
 *   the same body and trailers again.
 * - Content-Encoding is what the rewrite declares (RFC 9110 §8.4): dropped
 *   when the result is sent unencoded, kept when it was encoded again.
 *   Digests of the old body (BODY_DIGEST_FIELDS) go.
 * - `Expect: 100-continue` is answered here (RFC 9110 §10.1.1): the client
 *   must send the body before the upstream is asked, and the field is not
 *   forwarded since the body goes with the head.
 */
import { GatewayError, toGatewayError } from '../core/errors.ts'
import type { HeaderList } from '../core/header-list.ts'
import type { RequestBodyRewrite } from '../core/session.ts'

/** A request body after its rewrite: the bytes to send and the coding to declare. */
export interface WholeRequestBody {
  readonly body: Buffer
  readonly encoding: string | undefined
  /** The client's trailer fields to send after it (`[name, value, …]`, see keptTrailers); undefined for none. */
  readonly trailers: string[] | undefined
}

/** Told once how the collection ended. */
export type CollectedCallback = (err: GatewayError | undefined, whole: WholeRequestBody | undefined) => void

/** The interim response that asks a client waiting on `Expect: 100-continue` for its body. */
export const CONTINUE_100 = 'HTTP/1.1 100 Continue\r\n\r\n'

/** RequestBodyCollector keeps a request body whole, bounded, then runs the rewrite on it. */
export class RequestBodyCollector {
  private chunks: Buffer[] = []
  private size = 0
  private over = false
  private readonly spec: RequestBodyRewrite
  private readonly done: CollectedCallback

  constructor(spec: RequestBodyRewrite, done: CollectedCallback) {
    this.spec = spec
    this.done = done
  }

  /** requestData keeps a copy of a body slice (the client's read buffers are reused); past the cap the request fails. */
  requestData(chunk: Buffer): void {
    if (this.over) return
    this.size += chunk.length
    if (this.size > this.spec.maxSize) {
      this.over = true
      this.chunks = []
      const why = `request body over the whole-body limit of ${this.spec.maxSize} bytes`
      this.done(new GatewayError('BODY_TOO_LARGE', why), undefined)
      return
    }
    this.chunks.push(Buffer.from(chunk))
  }

  /** requestEnd: the body is whole; the rewrite runs (asynchronously: the callback never comes from inside this call). */
  requestEnd(trailers: string[] | undefined): void {
    if (this.over) return
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
    this.chunks = []
    const encoding = this.spec.encoding
    const kept = keptTrailers(trailers)
    this.spec.run(body).then(
      (out) => this.done(undefined, { body: out, encoding, trailers: kept }),
      (err) => this.done(toGatewayError(err, 'HOOK_FAILED'), undefined),
    )
  }
}

/**
 * Fields computed from a body's bytes (RFC 9530 Content-Digest and
 * Repr-Digest, RFC 3230 Digest, RFC 1864 Content-MD5): a rewritten body no
 * longer matches them, so both whole-body hooks remove them.
 */
export const BODY_DIGEST_FIELDS: readonly string[] = [
  'content-digest',
  'repr-digest',
  'digest',
  'content-md5',
]

/**
 * Fields a trailer section may not carry on (RFC 9110 §6.5.1: those whose
 * evaluation is needed before the content is received: framing, routing,
 * authentication, request modifiers, content format), and hop-by-hop ones
 * (RFC 9110 §7.6.1). The chunked decoder already refuses framing fields.
 */
const NOT_TRAILERS: ReadonlySet<string> = new Set([
  ...BODY_DIGEST_FIELDS,
  'content-length',
  'transfer-encoding',
  'trailer',
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'upgrade',
  'authorization',
  'proxy-authorization',
  'cookie',
  'expect',
  'max-forwards',
  'range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
  'cache-control',
  'pragma',
  'content-type',
  'content-encoding',
  'content-range',
])

/** keptTrailers: the client's trailer fields that go on after a rewritten body; undefined when none do. */
export function keptTrailers(trailers: string[] | undefined): string[] | undefined {
  if (trailers === undefined) return undefined
  const kept: string[] = []
  for (let i = 0; i < trailers.length; i += 2) {
    if (NOT_TRAILERS.has(trailers[i]!.toLowerCase())) continue
    kept.push(trailers[i]!, trailers[i + 1]!)
  }
  return kept.length > 0 ? kept : undefined
}

/** reframeRequest makes a request head's fields describe the rewritten body. */
export function reframeRequest(headers: HeaderList, whole: WholeRequestBody): void {
  for (const name of ['content-length', 'transfer-encoding', 'content-encoding', 'expect'])
    headers.delete(name)
  for (const name of BODY_DIGEST_FIELDS) headers.delete(name)
  // Trailers ride only on a chunked body (RFC 9112 §7.1.2).
  if (whole.trailers !== undefined) headers.set('Transfer-Encoding', 'chunked')
  else headers.set('Content-Length', String(whole.body.length))
  if (whole.encoding !== undefined) headers.set('Content-Encoding', whole.encoding)
}
