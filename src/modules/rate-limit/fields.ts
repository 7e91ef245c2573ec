/**
 * The response fields of a rate limit: Retry-After (RFC 9110 §10.2.3) on
 * 429, and the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers):
 * `RateLimit-Policy: "name";q=100;w=60` says the quota `q` per window `w`
 * seconds, `RateLimit: "name";r=42;t=3` what remains `r` and in how many
 * seconds `t` it is back to full. Both are Structured Field lists (RFC
 * 8941), one item per limit.
 */
import type { Decision } from './algorithms.ts'

/** What the fields need of a limit. */
export interface LimitFacts {
  readonly name: string
  /** The `RateLimit-Policy` item, built once. */
  readonly policyItem: string
}

/** policyItem builds the `RateLimit-Policy` item of a limit. */
export function policyItem(name: string, quota: number, periodMs: number): string {
  return `"${name}";q=${quota};w=${Math.max(1, Math.ceil(periodMs / 1000))}`
}

/** rateLimitItem builds the `RateLimit` item of one decision. */
export function rateLimitItem(limit: LimitFacts, d: Decision): string {
  const t = d[0] === 1 ? Number(d[3]) : Number(d[2])
  return `"${limit.name}";r=${d[1]};t=${Math.ceil(t / 1000)}`
}

/** retryAfterSeconds is the Retry-After of a denial: whole seconds, at least 1. */
export function retryAfterSeconds(d: Decision): number {
  return Math.max(1, Math.ceil(Number(d[2]) / 1000))
}

/** addFields appends the RateLimit fields of `limits`' decisions to a flat field list. */
export function addFields(
  out: string[],
  limits: readonly LimitFacts[],
  decisions: readonly Decision[],
): void {
  let policy = ''
  let state = ''
  for (let i = 0; i < decisions.length; i++) {
    policy += (i === 0 ? '' : ', ') + limits[i]!.policyItem
    state += (i === 0 ? '' : ', ') + rateLimitItem(limits[i]!, decisions[i]!)
  }
  if (decisions.length > 0) out.push('RateLimit-Policy', policy, 'RateLimit', state)
}
