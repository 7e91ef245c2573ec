/**
 * The strict HTTP/1.1 request-head parser (RFC 9112 §2–§6). It works on the
 * bytes a connection has accumulated: `scanRequestHead` finds where the head
 * ends (or rejects early), `parseRequestHead` turns the complete head into a
 * RequestHead. Anything ambiguous is refused with a 4xx rather than guessed,
 * because a proxy that guesses differently from its upstream is how request
 * smuggling happens.
 */
import { GatewayError } from '../core/errors.ts'
import { isHostValue, isTargetText, isToken } from './chars.ts'
import { RequestHead } from '../core/request-head.ts'
import { checkTransferEncoding, findHeadEnd, parseFieldLines, readConnection } from './fields.ts'

// The parsed head is a core type (the Session carries it); the parser fills it in.
export { RequestHead }

/** Limits applied while parsing a request head. */
export interface HeadLimits {
  /** Request line plus field lines plus the blank line, in bytes. */
  maxHeadSize: number
  /** Field lines. */
  maxHeaders: number
  /** Request-target length in bytes. */
  maxTargetLength: number
}

/** Which request-target forms a listener accepts (RFC 9112 §3.2). */
export interface TargetForms {
  /** `GET http://host/path` — proxies and, per §3.2.2, every server must accept it. */
  absolute: boolean
  /** `CONNECT host:port` — only forward proxies. */
  authority: boolean
}

export const REVERSE_PROXY_FORMS: TargetForms = { absolute: true, authority: false }

const VERSION_RE = /^HTTP\/(\d)\.(\d)$/
const BARE_LINE_BREAK_RE = /\r(?!\n)|(?<!\r)\n/

/**
 * scanRequestHead looks for the end of a head in `buf` from `start`.
 * Returns the index just past the blank line, or -1 when more bytes are
 * needed. Throws when the bytes so far can already be refused: a bare CR or
 * LF (which would otherwise stall until the head timeout) or too many bytes.
 *
 * The refusal must not depend on how TCP cut the bytes (the fuzz test checks
 * this), so the checks run in byte order on a fixed window: bare line breaks
 * first, looked for only within the first maxHeadSize + 1 bytes (the point at
 * which an incremental reader refuses for size), then the size, then — once
 * the head is complete — everything parseRequestHead checks.
 */
export function scanRequestHead(buf: Buffer, start: number, limits: HeadLimits): number {
  // RFC 9112 §2.2: ignore at least one empty line before the request line.
  let from = start
  while (from + 1 < buf.length && buf[from] === 0x0d && buf[from + 1] === 0x0a && from - start < 8) from += 2
  const end = findHeadEnd(buf, from)
  // A complete head within the limit has its line breaks checked by
  // parseRequestHead, first thing, on the decoded text (one regex instead of
  // a Buffer search per line); otherwise they are checked here, before size.
  if (end !== -1 && end + 4 - start <= limits.maxHeadSize) return end + 4
  const seen = end === -1 ? buf.length : end + 4
  checkLineBreaks(buf, from, Math.min(seen, from + limits.maxHeadSize + 1))
  if (end !== -1) {
    if (end + 4 - start > limits.maxHeadSize) throw headTooLarge(buf, from, end, limits)
    return end + 4
  }
  if (buf.length - from > limits.maxHeadSize) throw headTooLarge(buf, from, buf.length, limits)
  return -1
}

/**
 * RFC 9112 §2.2: a bare LF, or a CR not followed by LF, in `buf[from, limit)`
 * is refused (no leniency: lenient line ends are a smuggling vector). A CR
 * whose next byte is not in the window yet is not decided.
 */
function checkLineBreaks(buf: Buffer, from: number, limit: number): void {
  for (let i = buf.indexOf(0x0a, from); i !== -1 && i < limit; i = buf.indexOf(0x0a, i + 1)) {
    if (i === from || buf[i - 1] !== 0x0d) throw new GatewayError('MALFORMED_REQUEST', 'bare LF in head')
  }
  for (let i = buf.indexOf(0x0d, from); i !== -1 && i + 1 < limit; i = buf.indexOf(0x0d, i + 1)) {
    if (buf[i + 1] !== 0x0a) throw new GatewayError('MALFORMED_REQUEST', 'bare CR in head')
  }
}

/** A head over the limit is 414 when the request line alone is too long, else 431. */
function headTooLarge(buf: Buffer, from: number, end: number, limits: HeadLimits): GatewayError {
  const lineEnd = buf.indexOf(0x0d, from)
  const lineLength = (lineEnd === -1 || lineEnd > end ? end : lineEnd) - from
  if (lineLength > limits.maxTargetLength) return new GatewayError('TARGET_TOO_LONG', 'request line too long')
  return new GatewayError('HEAD_TOO_LARGE', 'request head too large')
}

/**
 * parseRequestHead parses the complete head `buf[start, end)` (`end` as
 * returned by scanRequestHead). Throws a GatewayError (400/414/431/501/505).
 */
export function parseRequestHead(
  buf: Buffer,
  start: number,
  end: number,
  limits: HeadLimits,
  forms: TargetForms = REVERSE_PROXY_FORMS,
): RequestHead {
  const text = buf.toString('latin1', start, end)
  try {
    return parseRequestText(text, end - start, limits, forms)
  } catch (err) {
    // RFC 9112 §2.2: a bare CR or LF anywhere (see scanRequestHead) is the
    // refusal, whatever else is wrong, so that it does not depend on how TCP
    // split the bytes. A head that parses has none: the request line and
    // field checks refuse every CR and LF outside a CRLF.
    if (BARE_LINE_BREAK_RE.test(text)) throw new GatewayError('MALFORMED_REQUEST', 'bare CR or LF in head')
    throw err
  }
}

function parseRequestText(text: string, size: number, limits: HeadLimits, forms: TargetForms): RequestHead {
  let pos = 0
  while (text.startsWith('\r\n', pos)) pos += 2
  const head = new RequestHead()
  head.size = size
  const lineEnd = text.indexOf('\r\n', pos)
  parseRequestLine(text.slice(pos, lineEnd), head, limits, forms)
  parseFieldLines(text, lineEnd + 2, text.length - 2, head, limits.maxHeaders, 'MALFORMED_REQUEST')
  applyFraming(head)
  return head
}

function parseRequestLine(line: string, head: RequestHead, limits: HeadLimits, forms: TargetForms): void {
  // RFC 9112 §3: method SP request-target SP HTTP-version, single spaces.
  const sp1 = line.indexOf(' ')
  const sp2 = line.lastIndexOf(' ')
  if (sp1 <= 0 || sp2 === sp1) throw new GatewayError('MALFORMED_REQUEST', 'malformed request line')
  const method = line.slice(0, sp1)
  const target = line.slice(sp1 + 1, sp2)
  const version = line.slice(sp2 + 1)
  if (!isToken(method)) throw new GatewayError('MALFORMED_REQUEST', 'invalid method')
  const minor = version === 'HTTP/1.1' ? 1 : version === 'HTTP/1.0' ? 0 : versionMinor(version)
  if (target.length > limits.maxTargetLength)
    throw new GatewayError('TARGET_TOO_LONG', 'request target too long')
  if (!isTargetText(target)) {
    // RFC 9112 §3.2: the request-target never carries a fragment.
    const why = target.includes('#') ? 'fragment in request target' : 'invalid request target'
    throw new GatewayError('MALFORMED_REQUEST', why)
  }
  head.method = method
  head.minor = minor
  readTarget(target, head, forms)
}

/** versionMinor checks an HTTP-version other than the two common ones: 400 if malformed, 505 if another version. */
function versionMinor(version: string): number {
  const v = VERSION_RE.exec(version)
  if (v === null) throw new GatewayError('MALFORMED_REQUEST', 'invalid HTTP version')
  if (v[1] !== '1' || (v[2] !== '0' && v[2] !== '1')) {
    throw new GatewayError('HTTP_VERSION_NOT_SUPPORTED', `HTTP version ${version} not supported`)
  }
  return v[2] === '1' ? 1 : 0
}

/** readTarget classifies the request-target by its form (RFC 9112 §3.2.1–§3.2.4). */
function readTarget(target: string, head: RequestHead, forms: TargetForms): void {
  const c = target.charCodeAt(0)
  if (head.method === 'CONNECT') {
    if (!forms.authority) throw new GatewayError('MALFORMED_REQUEST', 'CONNECT not allowed here')
    if (!/^[^/?#@]+:\d{1,5}$/.test(target))
      throw new GatewayError('MALFORMED_REQUEST', 'invalid authority-form target')
    head.target = target
    return
  }
  if (c === 0x2f /* / */) {
    head.target = target
    return
  }
  if (target === '*') {
    if (head.method !== 'OPTIONS')
      throw new GatewayError('MALFORMED_REQUEST', 'asterisk-form only with OPTIONS')
    head.target = target
    return
  }
  const m = /^(https?):\/\/([^/?#]+)(.*)$/i.exec(target)
  if (m === null || !forms.absolute)
    throw new GatewayError('MALFORMED_REQUEST', 'invalid request target form')
  const authority = m[2]!
  if (authority.includes('@') || !isHostValue(authority)) {
    throw new GatewayError('MALFORMED_REQUEST', 'invalid authority in absolute-form target')
  }
  const rest = m[3]!
  head.absoluteScheme = m[1]!.toLowerCase()
  head.absoluteAuthority = authority
  // An empty path is `/`, except that a server-wide OPTIONS goes on in
  // asterisk-form: the last proxy MUST send `*` (RFC 9112 §3.2.4).
  if (rest === '') head.target = head.method === 'OPTIONS' ? '*' : '/'
  else {
    head.target = rest.startsWith('?') ? `/${rest}` : rest
    if (head.target.charCodeAt(0) !== 0x2f)
      throw new GatewayError('MALFORMED_REQUEST', 'invalid absolute-form target')
  }
}

/** applyFraming decides body length, persistence and upgrade from the fields (RFC 9112 §6.3, §9.3). */
function applyFraming(head: RequestHead): void {
  // RFC 9112 §3.2: a client MUST send exactly one Host in HTTP/1.1.
  if (head.hostCount > 1) throw new GatewayError('MALFORMED_REQUEST', 'multiple Host fields')
  if (head.hostCount === 0 && head.minor === 1) throw new GatewayError('MALFORMED_REQUEST', 'missing Host')
  if (head.host !== undefined && !isHostValue(head.host))
    throw new GatewayError('MALFORMED_REQUEST', 'invalid Host')
  if (head.absoluteAuthority !== undefined) head.host = head.absoluteAuthority

  if (head.transferEncoding !== undefined) {
    // RFC 9112 §6.1: Transfer-Encoding with Content-Length, or in HTTP/1.0, is faulty framing.
    if (head.contentLengthCount > 0)
      throw new GatewayError('MALFORMED_REQUEST', 'both Transfer-Encoding and Content-Length')
    if (head.minor === 0) throw new GatewayError('MALFORMED_REQUEST', 'Transfer-Encoding in HTTP/1.0')
    checkTransferEncoding(head.transferEncoding, 'MALFORMED_REQUEST', 'UNSUPPORTED_TRANSFER_CODING')
    head.chunked = true
  }

  const connection = readConnection(head.connection, head.minor)
  head.keepAlive = connection.keepAlive
  head.connectionOptions = connection.options
  if (connection.upgrade && head.upgrade !== undefined && head.minor === 1)
    head.upgradeProtocol = head.upgrade
  if (head.expect !== undefined && head.minor === 1 && head.expect.toLowerCase() === '100-continue') {
    head.expectContinue = true
  }
}
