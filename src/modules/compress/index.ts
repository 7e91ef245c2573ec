/**
 * The compression route module: gzip, brotli and zstd on proxied responses,
 * chosen by Accept-Encoding, streamed through `bodyTransform` (the exchange
 * then drops Content-Length and sends the body chunked, or close-delimited
 * to HTTP/1.0 clients). Which responses qualify: eligibility.ts; which
 * coding: negotiate.ts; configuration: schema.ts.
 */
import type { HeaderList } from '../../core/header-list.ts'
import type { GatewayHooks, ResponseHeadView } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import type { RouteModule } from '../registry.ts'
import { contentLength, type EligibilityPolicy, skipReason } from './eligibility.ts'
import { availableEncodings, createEncoder } from './encoders.ts'
import { EVENT_STREAM, mediaType, TypeMatcher } from './media-types.ts'
import { negotiate } from './negotiate.ts'
import { type CompressionConfig, type Encoding, effectiveCompression } from '../../config/modules/compress.ts'
import { trimOws } from '../../http1/fields.ts'

/**
 * compressModule returns the route's compression hook, or undefined when
 * compression is off there (the default) or nothing configured is available.
 */
export const compressModule: RouteModule = function compressModule(route, config) {
  const settings = effectiveCompression(config.compression, route.compress)
  if (settings === undefined) return undefined
  const offered = availableEncodings(settings.encodings)
  if (offered.length === 0) return undefined
  return compressionHooks(settings, offered)
}

/** compressionHooks builds the onResponse hook for settings already resolved for one route. */
export function compressionHooks(settings: CompressionConfig, offered: readonly Encoding[]): GatewayHooks {
  const policy: EligibilityPolicy = { types: new TypeMatcher(settings.types), minSize: settings.minSize }
  const level = settings.level
  // Clients send few distinct Accept-Encoding values; remembering the last
  // answer skips parsing for nearly every request.
  let lastAccept: string | undefined
  let lastCoding: Encoding | undefined

  return {
    onResponse: function compressResponse(session: Session, res: ResponseHeadView): void {
      const headers = res.headers
      if (skipReason(session.method, res.status, headers, policy) !== undefined) return
      addVary(headers)
      const accept = acceptEncoding(session)
      if (accept !== lastAccept) {
        lastCoding = negotiate(accept, offered)
        lastAccept = accept
      }
      if (lastCoding === undefined) return
      const flush = mediaType(headers.get('content-type')) === EVENT_STREAM
      res.bodyTransform = createEncoder(lastCoding, level, contentLength(headers), flush)
      markEncoded(headers, lastCoding)
    },
  }
}

/** acceptEncoding returns the request's Accept-Encoding, its field lines joined (RFC 9110 §5.3). */
function acceptEncoding(session: Session): string | undefined {
  const headers = session.headers
  const first = headers.get('accept-encoding')
  if (first === undefined) return undefined
  const all = headers.getAll('accept-encoding')
  return all.length === 1 ? first : all.join(', ')
}

/**
 * addVary lists Accept-Encoding in Vary (RFC 9110 §12.5.5), appending to the
 * last existing Vary line rather than adding a second one; nothing when
 * Accept-Encoding or `*` is already there.
 */
export function addVary(headers: HeaderList): void {
  const raw = headers.raw
  let last = -1
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 4 || raw[i]!.toLowerCase() !== 'vary') continue
    if (VARY_COVERED_RE.test(raw[i + 1]!)) return
    last = i
  }
  if (last === -1) raw.push('Vary', 'Accept-Encoding')
  else
    raw[last + 1] = trimOws(raw[last + 1]!) === '' ? 'Accept-Encoding' : `${raw[last + 1]}, Accept-Encoding`
}

const VARY_COVERED_RE = /(?:^|,)\s*(?:accept-encoding|\*)\s*(?:,|$)/i

/**
 * markEncoded sets the head fields that change with the bytes: the coding,
 * a weak ETag (RFC 9110 §8.8.1: the encoded bytes differ, so a strong
 * validator no longer holds; nginx does the same), no Accept-Ranges (ranges
 * of the encoded bytes cannot be served), and no digests of the old bytes
 * (RFC 9530). Content-Length is dropped by the exchange.
 */
function markEncoded(headers: HeaderList, coding: Encoding): void {
  headers.set('Content-Encoding', coding)
  const etag = headers.get('etag')
  if (etag?.startsWith('"')) headers.set('ETag', `W/${etag}`)
  headers.delete('accept-ranges')
  headers.delete('content-digest')
  headers.delete('repr-digest')
}
