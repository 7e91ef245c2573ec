/**
 * Which responses may be compressed at all, whatever the client accepts.
 * A response that may is also one whose bytes depend on Accept-Encoding, so
 * it gets `Vary: Accept-Encoding` even when this client gets identity.
 */
import type { HeaderList } from '../../core/header-list.ts'
import { mediaType, type TypeMatcher } from './media-types.ts'
import { trimOws } from '../../http1/fields.ts'

/** Why a response is sent as it is; stable names for tests and debugging. */
export type SkipReason =
  | 'head-request'
  | 'no-body-status'
  | 'partial-content'
  | 'already-encoded'
  | 'no-transform'
  | 'type-not-listed'
  | 'too-small'

/** What eligibility needs from the route's compression settings. */
export interface EligibilityPolicy {
  readonly types: TypeMatcher
  readonly minSize: number
}

/**
 * skipReason returns why the response must not be compressed, or undefined
 * when it may be. Cheapest checks first: most responses are decided by the
 * method, the status or one header lookup.
 */
export function skipReason(
  method: string,
  status: number,
  headers: HeaderList,
  policy: EligibilityPolicy,
): SkipReason | undefined {
  // As nginx's gzip filter: a HEAD response is left as the origin made it.
  if (method === 'HEAD') return 'head-request'
  // RFC 9110 §15.2, §15.3.5, §15.4.5: no content to encode.
  if (status < 200 || status === 204 || status === 304) return 'no-body-status'
  // RFC 9110 §14.4: a range is of the identity bytes; encoding it would break reassembly.
  if (status === 206 || headers.has('content-range')) return 'partial-content'
  if (isEncoded(headers.get('content-encoding'))) return 'already-encoded'
  if (!policy.types.matches(mediaType(headers.get('content-type')))) return 'type-not-listed'
  // RFC 9111 §5.2.2.6: an intermediary must not transform the content.
  if (hasNoTransform(headers)) return 'no-transform'
  const length = contentLength(headers)
  if (length !== -1 && length < policy.minSize) return 'too-small'
  return undefined
}

/** contentLength returns the response's Content-Length, or -1 when it has none. */
export function contentLength(headers: HeaderList): number {
  const v = headers.get('content-length')
  if (v === undefined) return -1
  const n = Number(v)
  return Number.isSafeInteger(n) && n >= 0 ? n : -1
}

function isEncoded(contentEncoding: string | undefined): boolean {
  if (contentEncoding === undefined) return false
  const v = trimOws(contentEncoding)
  // `identity` is not a content coding (RFC 9110 §8.4.1); a body so labelled is unencoded.
  return v !== '' && v.toLowerCase() !== 'identity'
}

const NO_TRANSFORM_RE = /(?:^|,)\s*no-transform\s*(?:,|$)/i

function hasNoTransform(headers: HeaderList): boolean {
  const raw = headers.raw
  for (let i = 0; i < raw.length; i += 2) {
    if (
      raw[i]!.length === 13 &&
      raw[i]!.toLowerCase() === 'cache-control' &&
      NO_TRANSFORM_RE.test(raw[i + 1]!)
    )
      return true
  }
  return false
}
