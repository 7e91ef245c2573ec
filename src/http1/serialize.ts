/**
 * Serialisation of what the gateway sends to clients: response heads (from an
 * upstream or made here) and chunked framing.
 */
import { STATUS_CODES } from 'node:http'
import { type IndexedFieldSink, isName } from './fields.ts'

/** How a response body is framed to the client. */
export type ResponseFraming = 'none' | 'length' | 'chunked' | 'close'

export interface ResponseHeadOptions {
  /** Framing decided for the client side. */
  framing: ResponseFraming
  /** Send `Connection: close` and close after the body. */
  close: boolean
  /** The client spoke HTTP/1.0 and the connection stays open: say so (RFC 9112 §9.3). */
  keepAliveHeader: boolean
  /** Extra fields appended at the end, flat `[name, value, …]`. */
  extra: readonly string[] | undefined
  /** Lowercased Connection options of the upstream response: more hop-by-hop fields to drop. */
  connectionOptions: readonly string[] | undefined
  /** 101 responses keep Connection/Upgrade. */
  upgrade: string | undefined
}

/**
 * serializeResponseHead writes a response head for the client from an
 * upstream's fields, dropping hop-by-hop fields (RFC 9110 §7.6.1) and
 * stating the framing this hop uses.
 */
export function serializeResponseHead(
  status: number,
  reason: string,
  fields: readonly string[] | IndexedFieldSink,
  o: ResponseHeadOptions,
): string {
  let s = `HTTP/1.1 ${status} ${reason === '' ? (STATUS_CODES[status] ?? '') : reason}\r\n`
  if (
    !Array.isArray(fields) &&
    (fields as IndexedFieldSink).fieldIndex !== null &&
    o.connectionOptions === undefined
  ) {
    s += keptFieldLines(fields as IndexedFieldSink, o.framing)
  } else {
    const raw = Array.isArray(fields)
      ? (fields as readonly string[])
      : (fields as IndexedFieldSink).rawHeaders
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!
      if (isHopByHopResponseField(name, o.framing)) continue
      if (o.connectionOptions?.includes(name.toLowerCase())) continue
      s += `${name}: ${raw[i + 1]}\r\n`
    }
  }
  if (o.framing === 'chunked') s += 'Transfer-Encoding: chunked\r\n'
  if (o.upgrade !== undefined) s += `Connection: upgrade\r\nUpgrade: ${o.upgrade}\r\n`
  else if (o.close) s += 'Connection: close\r\n'
  else if (o.keepAliveHeader) s += 'Connection: keep-alive\r\n'
  const extra = o.extra
  if (extra !== undefined) for (let i = 0; i < extra.length; i += 2) s += `${extra[i]}: ${extra[i + 1]}\r\n`
  return `${s}\r\n`
}

/**
 * keptFieldLines copies an indexed field section (parseFieldLines with `index`) as
 * runs of its own text, leaving out the hop-by-hop lines: the upstream's
 * field lines go out byte for byte, without slicing each field.
 */
function keptFieldLines(head: IndexedFieldSink, framing: ResponseFraming): string {
  const text = head.text
  const index = head.fieldIndex!
  if (index.length === 0) return ''
  let out = ''
  let run = index[0]!
  for (let i = 0; i < index.length; i += 4) {
    const start = index[i]!
    const colon = index[i + 1]!
    if (HOP_BY_HOP_LENGTHS[colon - start] !== 1) continue
    if (!isHopByHopResponseField(text.slice(start, colon), framing)) continue
    out += text.slice(run, start)
    run = i + 4 < index.length ? index[i + 4]! : head.fieldsEnd
  }
  return out + text.slice(run, head.fieldsEnd)
}

/** 1 at the lengths of the names isHopByHopResponseField may drop. */
const HOP_BY_HOP_LENGTHS = new Uint8Array(32)
for (const n of [2, 7, 10, 14, 16, 17]) HOP_BY_HOP_LENGTHS[n] = 1

/** Content-Length is dropped only when this hop re-frames the body as chunked. */
function isHopByHopResponseField(name: string, framing: ResponseFraming): boolean {
  switch (name.length) {
    case 2:
      return isName(name, 'te')
    case 7:
      return isName(name, 'upgrade') || isName(name, 'trailer')
    case 10:
      return isName(name, 'connection') || isName(name, 'keep-alive')
    case 14:
      return framing === 'chunked' && isName(name, 'content-length')
    case 16:
      return isName(name, 'proxy-connection')
    case 17:
      return isName(name, 'transfer-encoding')
    default:
      return false
  }
}

/** serializeInformational writes a 1xx head (RFC 9110 §15.2) with its fields minus hop-by-hop ones. */
export function serializeInformational(status: number, reason: string, raw: readonly string[]): string {
  return serializeResponseHead(status, reason, raw, INFORMATIONAL)
}

const INFORMATIONAL: ResponseHeadOptions = {
  framing: 'none',
  close: false,
  keepAliveHeader: false,
  extra: undefined,
  connectionOptions: undefined,
  upgrade: undefined,
}

const CRLF = Buffer.from('\r\n')

/** chunkHeader is the size line of one chunk (RFC 9112 §7.1). */
export function chunkHeader(size: number): string {
  return `${size.toString(16)}\r\n`
}

export { CRLF }

/**
 * lastChunk ends a chunked body, with trailer fields when there are any
 * (RFC 9112 §7.1.2). Framing fields are never sent as trailers (RFC 9110 §6.5.1).
 */
export function lastChunk(trailers: readonly string[] | undefined): string {
  if (trailers === undefined || trailers.length === 0) return '0\r\n\r\n'
  let s = '0\r\n'
  for (let i = 0; i < trailers.length; i += 2) {
    const l = trailers[i]!.toLowerCase()
    if (l === 'content-length' || l === 'transfer-encoding' || l === 'host' || l === 'trailer') continue
    s += `${trailers[i]}: ${trailers[i + 1]}\r\n`
  }
  return `${s}\r\n`
}
