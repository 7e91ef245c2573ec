/**
 * The body of an error the gateway answers itself: the status, the stable
 * code and the request id, as JSON when the client accepts JSON, else text;
 * never an internal message (CONTRACT.md, "Responses Portcullis itself
 * makes"). In core so that modules answering policy errors and the server
 * build the same response.
 */
import { STATUS_CODES } from 'node:http'
import type { GatewayError } from './errors.ts'
import type { GatewayResponse } from './hooks.ts'

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
