/**
 * Answers policy modules make (401, 403, 429, 503): the gateway's usual
 * error body with the stable code and the request id (CONTRACT.md), plus the
 * fields the policy must send (WWW-Authenticate, Retry-After, RateLimit …).
 */
import { type ErrorCode, GatewayError } from '../core/errors.ts'
import type { HookResult, ResponseHeadView } from '../core/hooks.ts'
import type { Session } from '../core/session.ts'
import { errorResponse } from '../core/error-response.ts'

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
  // Fields earlier policies decided (CORS): a browser must be able to read a 401 or 429 too.
  const earlier = session.policyFields
  if (earlier !== undefined)
    for (let i = 0; i < earlier.length; i += 2) headers.push([earlier[i]!, earlier[i + 1]!])
  return { kind: 'respond', response: { ...res, headers } }
}

/** addPolicyFields queues response fields for the proxied response (applyPolicyFields) and policy errors. */
export function addPolicyFields(session: Session, fields: readonly string[]): void {
  if (session.policyFields === undefined) session.policyFields = [...fields]
  else session.policyFields.push(...fields)
}

/**
 * applyPolicyFields appends the queued fields to a proxied response, once:
 * every module that queues fields calls it from its onResponse, and the
 * first to run applies them all.
 */
export function applyPolicyFields(session: Session, res: ResponseHeadView): void {
  const fields = session.policyFields
  if (fields === undefined) return
  session.policyFields = undefined
  for (let i = 0; i < fields.length; i += 2) res.headers.append(fields[i]!, fields[i + 1]!)
}
