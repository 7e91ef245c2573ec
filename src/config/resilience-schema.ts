/**
 * The schema of an upstream's resilience keys (docs/configuration.md,
 * "Retries, circuit breaking and limits"): `retries`, `circuitBreaker` and
 * `limits` under `upstreams.NAME`, and a route's `retries` and `timeout`.
 * Every key is optional: an upstream or route without them pays nothing.
 * Durations come out in milliseconds and sizes in bytes, so a validated
 * configuration validates again unchanged.
 */
import { z } from 'zod'
import { duration, size } from './unit-schemas.ts'

/**
 * What a retry may follow besides a connect failure (always retried: nothing
 * was sent). `reset`: the connection broke before a response head;
 * `timeout`: no response head in time (per try or `timeouts.response`);
 * a status: the response head had it (the response is dropped, not forwarded).
 */
const retryOn = z.union([z.enum(['connect-failure', 'reset', 'timeout']), z.number().int().min(400).max(599)])

export type RetryCondition = z.output<typeof retryOn>

const budget = z.strictObject({
  /** Retries in progress at most this share (percent) of the upstream's requests in progress. */
  percent: z.number().min(0).max(100).default(20),
  /** ... but never fewer than this many at once (so a quiet upstream may still retry). */
  min: z.number().int().min(0).default(3),
})

const backoff = z
  .strictObject({
    /** The first retry waits a random time up to this (full jitter); each next one up to twice as long. */
    base: duration.default(25),
    /** The wait is never longer than this. */
    max: duration.default(250),
  })
  .prefault({})

/** `upstreams.NAME.retries`. */
export const retriesSchema = z.strictObject({
  /** Tries in all, the first included (2 = one retry). */
  attempts: z.number().int().min(1).max(10).default(2),
  /** What may be retried; connect failures always are. */
  on: z.array(retryOn).default(['reset', 502, 503, 504]),
  /** Retry POST, PATCH and other non-idempotent methods too (RFC 9110 §9.2.2); off by default. */
  unsafeMethods: z.boolean().default(false),
  /** One try's limit, from picking the target to the response head; 0 for none (then timeouts.response applies). */
  perTryTimeout: duration.default(0),
  /** Retries in progress per upstream; absent: no budget (only `limits.maxRetries`). */
  budget: budget.optional(),
  backoff,
  /** A `Retry-After` (seconds or a date, RFC 9110 §10.2.3) up to this is waited before retrying; longer ones are not retried. */
  retryAfterMax: duration.default(2000),
  /** Request bodies up to this size are kept to be sent again; larger ones are only retried after a connect failure. */
  bodyBuffer: size.default(64 * 1024),
})

export type RetriesConfig = z.output<typeof retriesSchema>

/** `upstreams.NAME.circuitBreaker`: one breaker per target, on its error rate. */
export const circuitBreakerSchema = z.strictObject({
  /** Opens when failures are at least this share of the tries in the window ... */
  failureRatio: z.number().gt(0).max(1).default(0.5),
  /** ... and the window holds at least this many tries. */
  minRequests: z.number().int().min(1).default(20),
  /** The rolling window (kept in ten buckets). */
  window: duration.default(10_000),
  /** How long an open breaker refuses requests before letting probes through (half-open). */
  openFor: duration.default(5000),
  /** Tries let through at once while half-open; all succeeding closes the breaker, one failing opens it again. */
  halfOpenRequests: z.number().int().min(1).default(1),
  /** Response statuses counted as failures (connect failures, resets and timeouts always are). */
  statuses: z.array(z.number().int().min(400).max(599)).default([500, 502, 503, 504]),
})

export type CircuitBreakerConfig = z.output<typeof circuitBreakerSchema>

/**
 * `upstreams.NAME.limits`: Envoy-style resource limits for the whole
 * upstream (`pool.maxConnections` limits connections per target). Absent:
 * unlimited, though overflow counters still count connection waits.
 */
export const upstreamLimitsSchema = z.strictObject({
  /** Requests waiting for a connection at once; one more gets 503 UPSTREAM_OVERFLOW_PENDING. 0 = never wait. */
  maxPending: z.number().int().min(0).optional(),
  /** Requests in progress at once; one more gets 503 UPSTREAM_OVERFLOW_REQUESTS. */
  maxRequests: z.number().int().min(1).optional(),
  /** Retries in progress at once; beyond it requests are not retried (their failure is answered). */
  maxRetries: z.number().int().min(0).optional(),
})

export type UpstreamLimitsConfig = z.output<typeof upstreamLimitsSchema>

/** The resilience keys of an upstream, spread into its schema. */
export const upstreamResilienceKeys = {
  retries: retriesSchema.optional(),
  circuitBreaker: circuitBreakerSchema.optional(),
  limits: upstreamLimitsSchema.optional(),
}

/** A route's `retries`: overrides of its upstream's, or `false` for none on this route. */
export const routeRetriesSchema = z.union([
  z.literal(false),
  z.strictObject({
    attempts: z.number().int().min(1).max(10).optional(),
    on: z.array(retryOn).optional(),
    unsafeMethods: z.boolean().optional(),
    perTryTimeout: duration.optional(),
  }),
])

export type RouteRetriesConfig = z.output<typeof routeRetriesSchema>

/** The resilience keys of a route, spread into its schema. */
export const routeResilienceKeys = {
  /** Overrides of the upstream's `retries` (of their defaults when it has none). */
  retries: routeRetriesSchema.optional(),
  /** The whole request's limit across tries and waits, until the response head; 504 UPSTREAM_REQUEST_TIMEOUT. */
  timeout: duration.optional(),
  /** Hedging: a second try on another target when the first has no response head after `delay`; the loser is cancelled. */
  hedge: z.strictObject({ delay: duration }).optional(),
}
