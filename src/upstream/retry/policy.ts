/**
 * A RetryPolicy is an upstream's `retries` with a route's overrides applied,
 * compiled once per route and upstream: what may be retried, how often, how
 * long to wait in between (exponential backoff with full jitter, or what the
 * upstream's Retry-After asks within a bound) and how much request body is
 * kept to be sent again.
 */
import { type RetriesConfig, retriesSchema, type RouteRetriesConfig } from '../../config/resilience-schema.ts'

export interface RetryPolicy {
  /** Tries in all, the first included. */
  readonly attempts: number
  readonly onReset: boolean
  readonly onTimeout: boolean
  /** Response statuses that are retried (the response is dropped). */
  readonly statuses: ReadonlySet<number>
  readonly unsafeMethods: boolean
  /** One try's limit until its response head; 0 for none. */
  readonly perTryTimeout: number
  readonly budget: { readonly percent: number; readonly min: number } | undefined
  readonly backoffBase: number
  readonly backoffMax: number
  readonly retryAfterMax: number
  readonly bodyBuffer: number
}

/** Methods whose replay cannot change the outcome (RFC 9110 §9.2.2). */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method)
}

let defaults: RetriesConfig | undefined

/**
 * compileRetryPolicy merges a route's `retries` over its upstream's; null
 * when neither has any or the route says `retries: false`.
 */
export function compileRetryPolicy(
  upstream: RetriesConfig | undefined,
  route: RouteRetriesConfig | undefined,
): RetryPolicy | null {
  if (route === false || (upstream === undefined && route === undefined)) return null
  const base = upstream ?? (defaults ??= retriesSchema.parse({}))
  const on = route?.on ?? base.on
  return {
    attempts: route?.attempts ?? base.attempts,
    onReset: on.includes('reset'),
    onTimeout: on.includes('timeout'),
    statuses: new Set(on.filter((c): c is number => typeof c === 'number')),
    unsafeMethods: route?.unsafeMethods ?? base.unsafeMethods,
    perTryTimeout: route?.perTryTimeout ?? base.perTryTimeout,
    budget: base.budget,
    backoffBase: base.backoff.base,
    backoffMax: base.backoff.max,
    retryAfterMax: base.retryAfterMax,
    bodyBuffer: base.bodyBuffer,
  }
}

/**
 * backoffDelay is the wait before retry number `n` (1 for the first):
 * uniformly random in [0, min(max, base·2^(n-1))) — "full jitter", which
 * spreads the retries of many clients that failed at the same moment.
 */
export function backoffDelay(policy: RetryPolicy, n: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.backoffMax, policy.backoffBase * 2 ** (n - 1))
  return Math.floor(random() * ceiling)
}

/**
 * retryAfterMs reads a Retry-After value (RFC 9110 §10.2.3: delay-seconds or
 * an HTTP-date) as milliseconds from `nowEpochMs`; undefined when absent or
 * malformed, 0 for a date in the past.
 */
export function retryAfterMs(value: string | undefined, nowEpochMs: number): number | undefined {
  if (value === undefined) return undefined
  const v = value.trim()
  if (/^\d+$/.test(v)) return Number(v) * 1000
  // An HTTP-date names its day and month (IMF-fixdate, RFC 850, asctime); Date.parse alone takes '-5'.
  if (!/^[A-Za-z]{3}/.test(v)) return undefined
  const at = Date.parse(v)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - nowEpochMs)
}
