/**
 * What a proxy must change in a request head on its way upstream:
 * hop-by-hop fields go (RFC 9110 §7.6.1), Host is kept or set to the
 * target's, forwarding fields are added (X-Forwarded-*, Via per RFC 9110
 * §7.6.3), a request id is ensured and a W3C traceparent passed on when valid.
 */
import { GatewayError } from '../core/errors.ts'
import { clientIp, trustList } from '../core/addresses.ts'
import type { Session } from '../core/session.ts'
import { isName, trimOws } from '../http1/fields.ts'

export { clientIp, trustList }

export interface ForwardingPolicy {
  preserveHost: boolean
  forwardedHeaders: boolean
  via: boolean
  /** Lowercase name of the request id header. */
  requestIdHeader: string
  /** Whether X-Forwarded-* from this peer are kept (appended to) rather than replaced. */
  trusts(address: string): boolean
  /**
   * Forward field names with `_` (nginx's underscores_in_headers). Off by
   * default: CGI, WSGI and some frameworks fold `_` into `-`, so
   * `Transfer_Encoding` would reach them as a second framing field.
   */
  underscoresInHeaders: boolean
  /** Lowercase protocol names an `Upgrade` may ask for (RFC 9110 §7.8); others are removed. */
  upgrades: ReadonlySet<string>
  /** Tracing (src/observe/tracing), when configured: it writes the traceparent sent upstream. */
  tracing?: TraceparentSource
}

/** What tracing does in the head: the `traceparent` for a request, given the valid incoming one. */
export interface TraceparentSource {
  traceparent(facts: ForwardFacts, incoming: string | undefined): string
}

/** How the request body is framed upstream. */
export type BodyFraming = 'none' | 'length' | 'chunked'

/** Facts about the incoming request the head builder needs. */
export interface IncomingRequest {
  minor: number
  rawHeaders: readonly string[]
  host: string | undefined
  contentLength: number
  connectionOptions: readonly string[] | undefined
  upgradeProtocol: string | undefined
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:@+=/-]{1,200}$/
const TRACEPARENT_RE = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/

/** incomingRequestId returns the client's request id when it is sane, else undefined. */
export function incomingRequestId(raw: readonly string[], header: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length === header.length && name.toLowerCase() === header) {
      const v = raw[i + 1]!
      return REQUEST_ID_RE.test(v) ? v : undefined
    }
  }
  return undefined
}

/** traceIdOf returns the trace id of a valid W3C traceparent (Trace Context §3.2), else undefined. */
export function traceIdOf(value: string): string | undefined {
  const m = TRACEPARENT_RE.exec(value)
  if (
    m === null ||
    value.startsWith('ff') ||
    /^0+$/.test(m[1]!) ||
    value.slice(36, 52) === '0000000000000000'
  ) {
    return undefined
  }
  return m[1]
}

/** What buildUpstreamHeaders found out on the way; reported on the session. */
export interface ForwardFacts {
  traceId: string | undefined
}

/**
 * buildUpstreamHeaders returns the flat header list to send upstream.
 * `hostHeader` is the target's host, used unless the policy preserves Host.
 */
export function buildUpstreamHeaders(
  req: IncomingRequest,
  policy: ForwardingPolicy,
  peer: string,
  tls: boolean,
  requestId: string,
  hostHeader: string,
  framing: BodyFraming,
  facts: ForwardFacts,
): string[] {
  const raw = req.rawHeaders
  const trusted = policy.forwardedHeaders && policy.trusts(peer)
  const host = policy.preserveHost && req.host !== undefined && req.host !== '' ? req.host : hostHeader
  const out: string[] = ['Host', host]
  let xff: string | undefined
  let xfProto: string | undefined
  let xfHost: string | undefined
  let via: string | undefined
  let tracestate = false
  let traceparent: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const value = raw[i + 1]!
    switch (classify(name, policy.requestIdHeader)) {
      case KEEP:
        if (req.connectionOptions !== undefined && req.connectionOptions.includes(name.toLowerCase())) break
        if (!policy.underscoresInHeaders && name.indexOf('_') !== -1) break
        out.push(name, value)
        break
      case XFF:
        if (trusted) xff = xff === undefined ? value : `${xff}, ${value}`
        else if (!policy.forwardedHeaders) out.push(name, value)
        break
      case XF_PROTO:
        if (trusted) xfProto ??= value
        else if (!policy.forwardedHeaders) out.push(name, value)
        break
      case XF_HOST:
        if (trusted) xfHost ??= value
        else if (!policy.forwardedHeaders) out.push(name, value)
        break
      case VIA:
        via = via === undefined ? value : `${via}, ${value}`
        break
      case TRACEPARENT:
        facts.traceId = traceIdOf(value)
        if (facts.traceId === undefined) break
        if (policy.tracing === undefined) out.push(name, value)
        else traceparent = value
        break
      case TRACESTATE:
        out.push(name, value) // dropped below when traceparent was invalid
        tracestate = true
        break
      // DROP: hop-by-hop, framing, Host and the request id are rebuilt below.
    }
  }
  if (tracestate && facts.traceId === undefined) dropField(out, 'tracestate')
  if (policy.tracing !== undefined) out.push('traceparent', policy.tracing.traceparent(facts, traceparent))
  if (framing === 'length') out.push('Content-Length', String(req.contentLength))
  else if (framing === 'chunked') out.push('Transfer-Encoding', 'chunked')
  // An explicit empty body stays explicit: servers may answer a POST without a length 411 (RFC 9110 §8.6).
  else if (req.contentLength === 0) out.push('Content-Length', '0')
  if (req.upgradeProtocol !== undefined) out.push('Connection', 'upgrade', 'Upgrade', req.upgradeProtocol)
  if (policy.forwardedHeaders) {
    out.push('X-Forwarded-For', xff === undefined ? peer : `${xff}, ${peer}`)
    out.push('X-Forwarded-Proto', xfProto ?? (tls ? 'https' : 'http'))
    if (req.host !== undefined) out.push('X-Forwarded-Host', xfHost ?? req.host)
  }
  if (policy.via) {
    const hop = req.minor === 1 ? '1.1 portcullis' : '1.0 portcullis'
    out.push('Via', via === undefined ? hop : `${via}, ${hop}`)
  } else if (via !== undefined) out.push('Via', via)
  out.push(policy.requestIdHeader, requestId)
  return out
}

/**
 * upstreamHeaders is buildUpstreamHeaders for a session: the header list sent
 * upstream for its request, and the trace id it carried.
 */
export function upstreamHeaders(
  session: Session,
  policy: ForwardingPolicy,
  hostHeader: string,
  framing: BodyFraming,
): string[] {
  return buildUpstreamHeaders(
    session.head,
    policy,
    session.clientAddress,
    session.tls,
    session.id,
    hostHeader,
    framing,
    session,
  )
}

/** The Via field added to responses (RFC 9110 §7.6.3); shared, never modified. */
const VIA_FIELD: readonly string[] = Object.freeze(['Via', '1.1 portcullis'])

/**
 * responseHopFields are the fields this hop adds to a proxied response,
 * flat `[name, value, …]`: Via, and the request id when it is echoed.
 */
export function responseHopFields(
  policy: ForwardingPolicy,
  echoRequestId: boolean,
  requestId: string,
): readonly string[] | undefined {
  const via = policy.via ? VIA_FIELD : undefined
  if (!echoRequestId) return via
  return [...(via ?? []), policy.requestIdHeader, requestId]
}

/**
 * allowedUpgrade keeps the members of an `Upgrade` request field (RFC 9110
 * §7.8: `protocol-name["/" protocol-version]`, comma-separated) whose name
 * is in `allowed`, compared case-insensitively. Returns the field value to
 * forward, or undefined when nothing may pass: the request then goes
 * upstream as a plain request, so an origin can never switch it to a
 * protocol the route did not allow (h2c, whose streams would bypass routing).
 */
export function allowedUpgrade(value: string, allowed: ReadonlySet<string>): string | undefined {
  if (allowed.size === 0) return undefined
  let kept: string | undefined
  for (const member of value.split(',')) {
    const protocol = trimOws(member)
    if (allowed.has(protocolName(protocol)) && PROTOCOL_RE.test(protocol))
      kept = kept === undefined ? protocol : `${kept}, ${protocol}`
  }
  return kept
}

/**
 * refuseSwitch checks a 101 against the upgrade that was forwarded: there
 * must have been one, and the response's `Upgrade` must name only protocols
 * it offered (RFC 9110 §15.2.2: the server MUST say which it switched to).
 * Returns the 502 to answer with, or undefined when the switch is allowed.
 */
export function refuseSwitch(
  requested: string | undefined,
  response: string | undefined,
): GatewayError | undefined {
  if (requested === undefined)
    return new GatewayError('UPSTREAM_INVALID_RESPONSE', '101 without an upgrade request')
  const offered = new Set(requested.split(',').map((p) => protocolName(trimOws(p))))
  const chosen = (response ?? '').split(',').map((p) => protocolName(trimOws(p)))
  if (chosen.every((p) => p !== '' && offered.has(p))) return undefined
  return new GatewayError(
    'UPSTREAM_INVALID_RESPONSE',
    `101 switching to '${response}', not to '${requested}'`,
  )
}

const PROTOCOL_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+)?$/

function protocolName(protocol: string): string {
  const slash = protocol.indexOf('/')
  return (slash === -1 ? protocol : protocol.slice(0, slash)).toLowerCase()
}

/** serializeRequestHead writes an HTTP/1.1 request head. */
export function serializeRequestHead(method: string, path: string, headers: readonly string[]): string {
  let s = `${method} ${path} HTTP/1.1\r\n`
  for (let i = 0; i < headers.length; i += 2) s += `${headers[i]}: ${headers[i + 1]}\r\n`
  return `${s}\r\n`
}

function dropField(out: string[], lower: string): void {
  for (let i = out.length - 2; i >= 0; i -= 2) {
    if (out[i]!.toLowerCase() === lower) out.splice(i, 2)
  }
}

const KEEP = 0
const DROP = 1
const XFF = 2
const XF_PROTO = 3
const XF_HOST = 4
const VIA = 5
const TRACEPARENT = 6
const TRACESTATE = 7

/** classify sorts a field name by what forwarding does with it; a length switch keeps it cheap. */
function classify(name: string, requestIdHeader: string): number {
  const n = name.length
  if (n === requestIdHeader.length && name.toLowerCase() === requestIdHeader) return DROP
  switch (n) {
    case 2:
      return isName(name, 'te') ? DROP : KEEP
    case 3:
      return isName(name, 'via') ? VIA : KEEP
    case 4:
      return isName(name, 'host') ? DROP : KEEP
    case 7:
      return isName(name, 'upgrade') || isName(name, 'trailer') ? DROP : KEEP
    case 10:
      if (isName(name, 'connection') || isName(name, 'keep-alive')) return DROP
      return isName(name, 'tracestate') ? TRACESTATE : KEEP
    case 11:
      return isName(name, 'traceparent') ? TRACEPARENT : KEEP
    case 14:
      // HTTP2-Settings belongs to an h2c upgrade, which is never forwarded (RFC 9113 §3.1 deprecates both).
      return isName(name, 'content-length') || isName(name, 'http2-settings') ? DROP : KEEP
    case 15:
      return isName(name, 'x-forwarded-for') ? XFF : KEEP
    case 16:
      if (isName(name, 'proxy-connection')) return DROP
      return isName(name, 'x-forwarded-host') ? XF_HOST : KEEP
    case 17:
      if (isName(name, 'transfer-encoding')) return DROP
      return isName(name, 'x-forwarded-proto') ? XF_PROTO : KEEP
    default:
      return KEEP
  }
}
