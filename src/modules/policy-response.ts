/**
 * Answers policy modules make (401, 403, 429, 503): the gateway's usual
 * error body with the stable code and the request id (CONTRACT.md), plus the
 * fields the policy must send (WWW-Authenticate, Retry-After, RateLimit …).
 */
import { type ErrorCode, GatewayError } from '../core/errors.ts'
import type { HookResult } from '../core/hooks.ts'
import type { Session } from '../core/session.ts'
import { errorResponse } from '../server/gateway-response.ts'

/**
 * policyError answers `session` with the error `code` and the extra fields
 * `fields` (flat `[name, value, …]`). `message` goes to logs only (the
 * session's error), never to the client; it must not contain credentials.
 */
export function policyError(
  session: Session,
  code: ErrorCode,
  fields: readonly string[] = [],
  message: string = code,
): HookResult {
  const err = new GatewayError(code, message)
  session.error = err
  const res = errorResponse(err, session.id, session.header('accept'))
  const headers: [string, string][] = Object.entries(res.headers as Record<string, string>)
  for (let i = 0; i < fields.length; i += 2) headers.push([fields[i]!, fields[i + 1]!])
  return { kind: 'respond', response: { ...res, headers } }
}
