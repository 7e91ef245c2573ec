/**
 * The response for one opened representation of a file: validators,
 * preconditions (304/412), ranges (206/416) or the whole file (200). Bodies
 * stream from the open descriptor with backpressure and never sit in
 * memory; whatever the outcome, the descriptor is either handed to the
 * body stream (which closes it) or closed here.
 */
import type { GatewayResponse } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import { evaluatePreconditions, httpDate, rangeStillValid, validators } from './conditional.ts'
import type { OpenedFile } from './locate.ts'
import type { Coding } from './precompressed.ts'
import { contentRange, multipartBody, parseRange, type RangeRequest } from './range.ts'

/** The representation chosen for a request: the file or a precompressed sibling. */
export interface Representation {
  readonly file: OpenedFile
  /** Set when `file` is a precompressed sibling. */
  readonly coding: Coding | undefined
  /** The Content-Type of the named file (not of its sibling). */
  readonly type: string
  /** Whether the response depends on Accept-Encoding. */
  readonly vary: boolean
}

type Headers = [string, string][]

const WHOLE: RangeRequest = Object.freeze({ kind: 'whole' })

/**
 * fileResponse answers `session` with `rep`. `cacheControl` is the
 * configured Cache-Control value, if any. Ranges apply to GET only (RFC
 * 9110 §14.2); several ranges of a precompressed representation get the
 * whole of it, as a multipart body under one Content-Encoding would be
 * ambiguous.
 */
export async function fileResponse(
  session: Session,
  rep: Representation,
  cacheControl: string | undefined,
): Promise<GatewayResponse> {
  const { handle, stat } = rep.file
  const size = stat.size
  const v = validators(size, stat.mtimeMs, rep.coding?.name)
  // RFC 9110 §15.4.5: a 304 carries the validators and caching fields a 200 would.
  const headers: Headers = [
    ['ETag', v.etag],
    ['Last-Modified', httpDate(v.lastModified)],
  ]
  if (cacheControl !== undefined) headers.push(['Cache-Control', cacheControl])
  if (rep.vary) headers.push(['Vary', 'Accept-Encoding'])
  const method = session.method
  const outcome = evaluatePreconditions(method, conditionalHeaders(session), v)
  if (outcome !== 'proceed') {
    await handle.close()
    return outcome === 304 ? { status: 304, headers } : textResponse(412, 'Precondition Failed')
  }
  headers.push(['X-Content-Type-Options', 'nosniff'], ['Accept-Ranges', 'bytes'])
  if (rep.coding !== undefined) headers.push(['Content-Encoding', rep.coding.name])
  const rangeField = method === 'GET' ? session.header('range') : undefined
  let range = WHOLE
  if (rangeField !== undefined && rangeStillValid(session.header('if-range'), v))
    range = parseRange(rangeField, size)
  if (range.kind === 'unsatisfiable') {
    await handle.close()
    return textResponse(416, 'Range Not Satisfiable', [['Content-Range', `bytes */${size}`]])
  }
  if (range.kind === 'ranges' && range.ranges.length === 1) {
    const r = range.ranges[0]!
    headers.push(['Content-Type', rep.type], ['Content-Range', contentRange(r, size)])
    const body = handle.createReadStream({ start: r.start, end: r.end })
    return { status: 206, headers, body, length: r.end - r.start + 1 }
  }
  if (range.kind === 'ranges' && rep.coding === undefined) {
    // Each part carries the file's type; the response's is the multipart one.
    const multipart = multipartBody(handle, range.ranges, size, rep.type)
    headers.push(['Content-Type', multipart.contentType])
    return { status: 206, headers, body: multipart.stream, length: multipart.length }
  }
  headers.push(['Content-Type', rep.type])
  if (size === 0) {
    await handle.close()
    return { status: 200, headers, body: '' }
  }
  // `end` bounds the body to the size the headers announce, even if the file grows meanwhile.
  const body = handle.createReadStream({ start: 0, end: size - 1 })
  return { status: 200, headers, body, length: size }
}

function conditionalHeaders(session: Session) {
  const h = session.headers
  return {
    ifMatch: listField(h.getAll('if-match')),
    ifNoneMatch: listField(h.getAll('if-none-match')),
    ifModifiedSince: session.header('if-modified-since'),
    ifUnmodifiedSince: session.header('if-unmodified-since'),
  }
}

/** listField joins repeated list fields (RFC 9110 §5.3); undefined when absent. */
function listField(values: readonly string[]): string | undefined {
  return values.length === 0 ? undefined : values.join(', ')
}

/** textResponse is a short plain-text answer the module makes itself (404, 405, 412, 416 …). */
export function textResponse(status: number, text: string, extra: Headers = []): GatewayResponse {
  return {
    status,
    headers: [['Content-Type', 'text/plain; charset=utf-8'], ['X-Content-Type-Options', 'nosniff'], ...extra],
    body: `${text}\n`,
  }
}
