/**
 * Responses the gateway makes itself: fixed route answers, hook answers and
 * errors. Errors carry a short body naming the stable code and the request
 * id (JSON when the client accepts JSON, else text), never an internal
 * message (CONTRACT.md, "Responses Portcullis itself makes").
 */
import { STATUS_CODES } from 'node:http'
import type { Readable } from 'node:stream'
import type { GatewayError } from '../core/errors.ts'
import { errorResponse } from '../core/error-response.ts'
import type { GatewayResponse, HookLists } from '../core/hooks.ts'
import type { Session } from '../core/session.ts'
import { BodyStreamer, type StreamTarget } from './body-streamer.ts'

export { errorResponse }

/**
 * errorAnswer is the response for a failed request: the first onError hook
 * that returns one (a throwing hook counts as none), else errorResponse.
 */
export function errorAnswer(
  hooks: HookLists['onError'],
  session: Session,
  err: GatewayError,
): GatewayResponse {
  for (const hook of hooks) {
    let res: GatewayResponse | undefined
    try {
      res = hook(session, err)
    } catch {
      res = undefined
    }
    if (res !== undefined) return res
  }
  return errorResponse(err, session.id, session.header('accept'))
}

/** Options for serialising a gateway-made response. */
export interface MadeResponseOptions {
  requestIdHeader: string
  requestId: string
  close: boolean
  keepAliveHeader: boolean
  /** HEAD requests get the head only (RFC 9110 §9.3.2). */
  headOnly: boolean
}

/** How a made response's body goes out. */
export type MadeFraming = 'length' | 'chunked' | 'close'

/**
 * serializeMadeResponse returns the head and, for in-memory bodies, the body
 * bytes. A streamed body (a Readable) is framed by the returned `framing`:
 * Content-Length when its length is known, else chunked, or close-delimited
 * for HTTP/1.0 clients.
 */
export function serializeMadeResponse(
  res: GatewayResponse,
  o: MadeResponseOptions,
): { head: string; body: Buffer; framing: MadeFraming } {
  const streamed = isReadable(res.body)
  let body: Buffer = EMPTY
  if (typeof res.body === 'string') body = Buffer.from(res.body)
  else if (Buffer.isBuffer(res.body)) body = res.body
  // RFC 9110 §8.6: no Content-Length on 1xx and 204; on a 304 only the 200's length, so none either.
  const bodiless = res.status < 200 || res.status === 204 || res.status === 304
  let framing: MadeFraming = 'length'
  if (streamed && res.length === undefined && !o.headOnly && !bodiless)
    framing = o.keepAliveHeader || o.close ? 'close' : 'chunked'
  const close = o.close || framing === 'close'
  let s = `HTTP/1.1 ${res.status} ${STATUS_CODES[res.status] ?? ''}\r\n`
  let hasId = false
  let hasDate = false
  for (const [name, value] of headerPairs(res.headers)) {
    const l = name.toLowerCase()
    if (l === 'content-length' || l === 'transfer-encoding' || l === 'connection') continue
    if (l === o.requestIdHeader) hasId = true
    else if (l === 'date') hasDate = true
    s += `${name}: ${value}\r\n`
  }
  if (!hasId) s += `${o.requestIdHeader}: ${o.requestId}\r\n`
  // RFC 9110 §6.6.1: an origin with a clock sends Date; for what we answer ourselves, we are one.
  if (!hasDate) s += `Date: ${httpDate()}\r\n`
  if (close) s += 'Connection: close\r\n'
  else if (o.keepAliveHeader) s += 'Connection: keep-alive\r\n'
  if (framing === 'chunked') s += 'Transfer-Encoding: chunked\r\n'
  else if (framing === 'length' && !bodiless && !(streamed && res.length === undefined)) {
    s += `Content-Length: ${streamed ? res.length : body.length}\r\n`
  }
  return { head: `${s}\r\n`, body: o.headOnly || bodiless ? EMPTY : body, framing }
}

/** What sendMadeResponse writes to: the client connection. */
export interface MadeResponseTarget extends StreamTarget {
  /** The response ends the connection; set when a streamed body is close-delimited. */
  closeAfter: boolean
  /** Whether this response ends the connection (it says `Connection: close` then). */
  closingAfterResponse(): boolean
}

/**
 * sendMadeResponse writes a response made by the gateway for `session`:
 * the head, then an in-memory body (and responseComplete), or a streamer
 * for a Readable body, which is returned (it calls responseComplete).
 */
export function sendMadeResponse(
  target: MadeResponseTarget,
  session: Session,
  res: GatewayResponse,
  requestIdHeader: string,
): BodyStreamer | null {
  const made = serializeMadeResponse(res, {
    requestIdHeader,
    requestId: session.id,
    close: target.closingAfterResponse(),
    keepAliveHeader: session.head.minor === 0,
    headOnly: session.method === 'HEAD',
  })
  session.status = res.status
  if (made.framing === 'close') target.closeAfter = true
  target.write(made.head)
  if (isReadable(res.body)) {
    // HEAD, 204 and 304 have no content (RFC 9110 §6.4.1), whatever a hook supplied.
    if (session.method === 'HEAD' || res.status === 204 || res.status === 304) res.body.destroy()
    else {
      const length = made.framing === 'length' ? res.length : undefined
      return new BodyStreamer(res.body, target, made.framing === 'chunked', length)
    }
  }
  if (made.body.length > 0) target.write(made.body)
  target.responseComplete()
  return null
}

let dateText = ''
let dateSecond = -1

/** httpDate is the current IMF-fixdate (RFC 9110 §5.6.7), formatted at most once a second. */
export function httpDate(): string {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== dateSecond) {
    dateSecond = second
    dateText = new Date(now).toUTCString()
  }
  return dateText
}

/** isReadable tells a stream body from a string or Buffer. */
export function isReadable(body: GatewayResponse['body']): body is Readable {
  return body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)
}

const EMPTY = Buffer.alloc(0)

function headerPairs(h: GatewayResponse['headers']): Iterable<readonly [string, string]> {
  if (h === undefined) return []
  if (Array.isArray(h)) return h as readonly (readonly [string, string])[]
  return Object.entries(h)
}
