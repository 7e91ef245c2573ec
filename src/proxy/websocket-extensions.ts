/**
 * `Sec-WebSocket-Extensions` for the WebSocket message relay
 * (websocket-relay.ts): the client's offer is cut down to what the relay can
 * read (permessage-deflate, RFC 7692), and the origin's 101 says what was
 * agreed. Only used on routes with `onWebSocketMessage` hooks; otherwise the
 * header passes untouched and the connection is a byte pipe.
 */
import type { RequestHead } from '../core/request-head.ts'
import { CLOSE_PROTOCOL_ERROR, FrameError } from './websocket-frames.ts'

const HEADER = 'sec-websocket-extensions'
const PERMESSAGE_DEFLATE = 'permessage-deflate'
/** The parameters RFC 7692 §7.1 defines; an offer naming any other cannot be read if accepted. */
const DEFLATE_PARAMS = new Set([
  'server_no_context_takeover',
  'client_no_context_takeover',
  'server_max_window_bits',
  'client_max_window_bits',
])

/** isWebSocket: whether an `Upgrade` value (as forwarded) names the WebSocket protocol (RFC 6455 §4.1). */
export function isWebSocket(protocol: string | undefined): boolean {
  if (protocol === undefined) return false
  for (const member of protocol.split(',')) if (member.trim().toLowerCase() === 'websocket') return true
  return false
}

/** One element of an extension list: its name, its parameters in order (true when valueless), its text. */
export interface ExtensionElement {
  name: string
  params: [string, string | true][]
  text: string
}

/** What the origin agreed to, per RFC 7692 §7.1; window bits default to 15. */
export interface DeflateParams {
  serverNoContextTakeover: boolean
  clientNoContextTakeover: boolean
  serverMaxWindowBits: number
  clientMaxWindowBits: number
}

/**
 * offerReadableExtensions keeps, in a WebSocket upgrade request, only the
 * permessage-deflate offers with parameters RFC 7692 defines (text as the
 * client wrote it), so whatever the origin agrees to, the relay can read
 * every frame (RFC 6455 §9.1). A header that does not parse is removed
 * whole. Called only for routes with message hooks.
 */
export function offerReadableExtensions(head: RequestHead): void {
  if (!isWebSocket(head.upgradeProtocol)) return
  const raw = head.rawHeaders
  const kept: string[] = []
  let at = -1
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    if (raw[i]!.toLowerCase() !== HEADER) continue
    const list = parseExtensions(raw[i + 1]!)
    if (list !== undefined) {
      const readable = list.filter((e) => e.name === PERMESSAGE_DEFLATE && e.params.every(knownParam))
      kept.unshift(...readable.map((e) => e.text))
    }
    raw.splice(i, 2)
    at = i
  }
  // One field with the offers in their order (RFC 9110 §5.3: the same as the fields joined).
  if (kept.length > 0) raw.splice(at, 0, 'Sec-WebSocket-Extensions', kept.join(', '))
}

function knownParam(p: [string, string | true]): boolean {
  return DEFLATE_PARAMS.has(p[0])
}

/**
 * negotiatedDeflate reads the extensions of a 101 (`[name, value, …]`):
 * null when none was agreed, else permessage-deflate's parameters. Throws a
 * FrameError (1002) when the answer is something the relay cannot read: not
 * one permessage-deflate element, or parameters RFC 7692 §7.1 forbids (a
 * client would fail the connection on it too).
 */
export function negotiatedDeflate(rawHeaders: readonly string[]): DeflateParams | null {
  let value: string | undefined
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === HEADER)
      value = value === undefined ? rawHeaders[i + 1]! : `${value}, ${rawHeaders[i + 1]!}`
  }
  if (value === undefined) return null
  const list = parseExtensions(value)
  if (list === undefined) throw unreadable('does not parse')
  if (list.length === 0) return null
  if (list.length > 1 || list[0]!.name !== PERMESSAGE_DEFLATE) throw unreadable(`is ${value}`)
  const agreed: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  }
  const seen = new Set<string>()
  for (const [key, v] of list[0]!.params) {
    // §7: a parameter named twice fails the negotiation.
    if (seen.has(key)) throw unreadable(`names ${key} twice`)
    seen.add(key)
    if (key === 'server_no_context_takeover' && v === true) agreed.serverNoContextTakeover = true
    else if (key === 'client_no_context_takeover' && v === true) agreed.clientNoContextTakeover = true
    // §7.1.2: in a response both window sizes carry a value, 8 to 15.
    else if (key === 'server_max_window_bits' && windowBits(v)) agreed.serverMaxWindowBits = Number(v)
    else if (key === 'client_max_window_bits' && windowBits(v)) agreed.clientMaxWindowBits = Number(v)
    else throw unreadable(`has ${key}${v === true ? '' : `=${v}`}`)
  }
  return agreed
}

function windowBits(v: string | true): boolean {
  return v !== true && /^(?:8|9|1[0-5])$/.test(v)
}

function unreadable(what: string): FrameError {
  return new FrameError(CLOSE_PROTOCOL_ERROR, `server's Sec-WebSocket-Extensions ${what}`)
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y

/**
 * parseExtensions reads a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1:
 * elements of a token and `;`-parameters, a value a token or a
 * quoted-string); undefined when it does not parse. Empty list elements are
 * skipped (RFC 9110 §5.6.1). Names are compared lowercased.
 */
export function parseExtensions(value: string): ExtensionElement[] | undefined {
  const out: ExtensionElement[] = []
  let i = skipOws(value, 0)
  while (i < value.length) {
    if (value[i] === ',') {
      i = skipOws(value, i + 1)
      continue
    }
    const start = i
    const name = token(value, i)
    if (name === undefined) return undefined
    i += name.length
    const params: [string, string | true][] = []
    for (;;) {
      const end = i
      i = skipOws(value, i)
      if (i === value.length || value[i] === ',') {
        out.push({ name: name.toLowerCase(), params, text: value.slice(start, end) })
        break
      }
      if (value[i] !== ';') return undefined
      i = skipOws(value, i + 1)
      const key = token(value, i)
      if (key === undefined) return undefined
      i += key.length
      let v: string | true = true
      const eq = skipOws(value, i)
      if (value[eq] === '=') {
        i = skipOws(value, eq + 1)
        const read = value[i] === '"' ? quoted(value, i) : token(value, i)
        if (read === undefined) return undefined
        i += read.length
        v = read[0] === '"' ? unquote(read) : read
      }
      params.push([key.toLowerCase(), v])
    }
  }
  return out
}

function skipOws(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++
  return i
}

function token(s: string, i: number): string | undefined {
  TOKEN.lastIndex = i
  return TOKEN.exec(s)?.[0]
}

/** quoted is the quoted-string (quotes and escapes included) starting at `i`, or undefined if unterminated. */
function quoted(s: string, i: number): string | undefined {
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\') j++
    else if (s[j] === '"') return s.slice(i, j + 1)
  }
  return undefined
}

function unquote(q: string): string {
  return q.slice(1, -1).replace(/\\(.)/g, '$1')
}
