/**
 * Responses the gateway makes itself: fixed route answers, hook answers and
 * errors. Errors carry a short body naming the stable code and the request
 * id (JSON when the client accepts JSON, else text), never an internal
 * message (CONTRACT.md, "Responses Portcullis itself makes").
 */
import { STATUS_CODES } from 'node:http'
import type { GatewayError } from '../core/errors.ts'
import type { GatewayResponse } from '../core/hooks.ts'

/** errorResponse builds the client-facing response for `err`. */
export function errorResponse(
  err: GatewayError,
  requestId: string,
  accept: string | undefined,
): GatewayResponse {
  const status = err.status === 499 ? 400 : err.status
  if (accept !== undefined && /\bjson\b/i.test(accept)) {
    return {
      status,
      headers: { 'Content-Type': 'application/json' },
      body: `${JSON.stringify({ error: { status, code: err.code, requestId } })}\n`,
    }
  }
  return {
    status,
    headers: { 'Content-Type': 'text/plain; charset=utf-8' },
    body: `${status} ${STATUS_CODES[status] ?? 'Error'}\ncode: ${err.code}\nrequest-id: ${requestId}\n`,
  }
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

/** serializeMadeResponse returns the head (with Content-Length) and the body bytes. */
export function serializeMadeResponse(
  res: GatewayResponse,
  o: MadeResponseOptions,
): { head: string; body: Buffer } {
  const body =
    res.body === undefined ? EMPTY : typeof res.body === 'string' ? Buffer.from(res.body) : res.body
  let s = `HTTP/1.1 ${res.status} ${STATUS_CODES[res.status] ?? ''}\r\n`
  let hasId = false
  for (const [name, value] of headerPairs(res.headers)) {
    const l = name.toLowerCase()
    if (l === 'content-length' || l === 'transfer-encoding' || l === 'connection') continue
    if (l === o.requestIdHeader) hasId = true
    s += `${name}: ${value}\r\n`
  }
  if (!hasId) s += `${o.requestIdHeader}: ${o.requestId}\r\n`
  if (o.close) s += 'Connection: close\r\n'
  else if (o.keepAliveHeader) s += 'Connection: keep-alive\r\n'
  s += `Content-Length: ${body.length}\r\n\r\n`
  return { head: s, body: o.headOnly ? EMPTY : body }
}

const EMPTY = Buffer.alloc(0)

function headerPairs(h: GatewayResponse['headers']): Iterable<readonly [string, string]> {
  if (h === undefined) return []
  if (Array.isArray(h)) return h as readonly (readonly [string, string])[]
  return Object.entries(h)
}
