/**
 * The HTTP/1.1 response-head parser for the upstream side. As strict as the
 * request side: an upstream response we cannot frame with certainty becomes a
 * 502, never a guess passed on to the client.
 */
import { GatewayError } from '../core/errors.ts'
import { isReasonPhrase } from './chars.ts'
import {
  checkTransferEncoding,
  findHeadEnd,
  type IndexedFieldSink,
  parseFieldLines,
  readConnection,
  sliceFields,
} from './fields.ts'

/**
 * A parsed response head. Its fields are indexed, not sliced (see
 * parseFieldLines): a head forwarded unchanged is copied as runs of its text.
 */
export class ResponseHead implements IndexedFieldSink {
  minor = 1
  status = 0
  reason = ''
  chunked = false
  /** False when the upstream asked to close or spoke HTTP/1.0 without keep-alive. */
  keepAlive = true
  connectionOptions: string[] | undefined = undefined
  size = 0
  // IndexedFieldSink
  fieldIndex: number[] | null = null
  fieldsEnd = 0
  text = ''
  private raw: string[] | null = []
  contentLength = -1
  contentLengthCount = 0
  transferEncoding: string | undefined = undefined
  connection: string | undefined = undefined
  host: string | undefined = undefined
  hostCount = 0
  upgrade: string | undefined = undefined
  expect: string | undefined = undefined

  /** The fields as received, `[name, value, …]`, sliced on first use. */
  get rawHeaders(): string[] {
    return (this.raw ??= sliceFields(this.text, this.fieldIndex!))
  }

  set rawHeaders(raw: string[]) {
    this.raw = raw
    this.fieldIndex = null
  }

  indexInto(text: string, end: number): number[] {
    this.raw = null
    this.text = text
    this.fieldsEnd = end
    return (this.fieldIndex = [])
  }
}

/**
 * scanResponseHead returns the index just past the head's blank line, or -1
 * when more bytes are needed. Throws once `maxHeadSize` bytes hold no end.
 */
export function scanResponseHead(buf: Buffer, start: number, maxHeadSize: number): number {
  const end = findHeadEnd(buf, start)
  // RFC 9112 §2.2: no bare LF. An LF-only head never shows a CRLFCRLF and would
  // stall until the response timeout (504), so an incomplete head is checked
  // here; a complete one is checked by the parser, which refuses any bare LF.
  const limit = end === -1 ? buf.length : start
  for (let i = buf.indexOf(0x0a, start); i !== -1 && i < limit; i = buf.indexOf(0x0a, i + 1)) {
    if (i === start || buf[i - 1] !== 0x0d)
      throw new GatewayError('UPSTREAM_INVALID_RESPONSE', 'bare LF in head')
  }
  if (end !== -1) {
    if (end + 4 - start > maxHeadSize)
      throw new GatewayError('UPSTREAM_INVALID_RESPONSE', 'response head too large')
    return end + 4
  }
  if (buf.length - start > maxHeadSize)
    throw new GatewayError('UPSTREAM_INVALID_RESPONSE', 'response head too large')
  return -1
}

/** parseResponseHead parses `buf[start, end)`. Throws UPSTREAM_INVALID_RESPONSE. */
export function parseResponseHead(buf: Buffer, start: number, end: number, maxHeaders: number): ResponseHead {
  const text = buf.toString('latin1', start, end)
  const head = new ResponseHead()
  head.size = end - start
  const lineEnd = text.indexOf('\r\n')
  readStatusLine(text, lineEnd, head)
  parseFieldLines(text, lineEnd + 2, text.length - 2, head, maxHeaders, 'UPSTREAM_INVALID_RESPONSE')
  applyResponseFraming(head)
  return head
}

/**
 * readStatusLine reads `text[0, lineEnd)`, RFC 9112 §4: HTTP-version SP
 * 3DIGIT SP [reason-phrase]; some servers omit the last SP. Checked by
 * character rather than by a regex with captures: it runs on every response.
 */
function readStatusLine(text: string, lineEnd: number, head: ResponseHead): void {
  const minor = text.charCodeAt(7) - 0x30
  const d1 = text.charCodeAt(9) - 0x30
  const d2 = text.charCodeAt(10) - 0x30
  const d3 = text.charCodeAt(11) - 0x30
  if (
    lineEnd < 12 ||
    !text.startsWith('HTTP/1.') ||
    (minor !== 0 && minor !== 1) ||
    text.charCodeAt(8) !== 0x20 ||
    !isDigit(d1) ||
    !isDigit(d2) ||
    !isDigit(d3) ||
    (lineEnd > 12 && text.charCodeAt(12) !== 0x20)
  ) {
    throw new GatewayError('UPSTREAM_INVALID_RESPONSE', 'malformed status line')
  }
  const reason = lineEnd > 13 ? text.slice(13, lineEnd) : ''
  if (!isReasonPhrase(reason)) throw new GatewayError('UPSTREAM_INVALID_RESPONSE', 'malformed status line')
  head.minor = minor
  head.status = d1 * 100 + d2 * 10 + d3
  head.reason = reason
  if (head.status < 100) throw new GatewayError('UPSTREAM_INVALID_RESPONSE', 'invalid status code')
}

function isDigit(d: number): boolean {
  return d >= 0 && d <= 9
}

function applyResponseFraming(head: ResponseHead): void {
  if (head.transferEncoding !== undefined) {
    // RFC 9112 §6.3 item 3: both present "ought to be handled as an error".
    if (head.contentLengthCount > 0) {
      throw new GatewayError('UPSTREAM_INVALID_RESPONSE', 'both Transfer-Encoding and Content-Length')
    }
    checkTransferEncoding(head.transferEncoding, 'UPSTREAM_INVALID_RESPONSE', 'UPSTREAM_INVALID_RESPONSE')
    head.chunked = true
  }
  const connection = readConnection(head.connection, head.minor)
  head.keepAlive = connection.keepAlive
  head.connectionOptions = connection.options
}

/**
 * responseHasBody applies RFC 9112 §6.3 items 1–2: responses to HEAD, 1xx,
 * 204 and 304 never have content, whatever their fields say.
 */
export function responseHasBody(method: string, status: number): boolean {
  return !(method === 'HEAD' || status < 200 || status === 204 || status === 304)
}
