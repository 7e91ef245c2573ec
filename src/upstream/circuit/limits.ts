/**
 * ResourceLimits are an upstream's Envoy-style circuit-breaking limits: how
 * many requests may wait for a connection, be in progress, and be retrying
 * at once, with an overflow counter per limit. A tripped limit answers at
 * once (503 with its own code) instead of queueing without bound, so a slow
 * upstream costs its callers a fast failure rather than their memory and
 * their own timeouts. The counters are plain fields for the admin API and
 * metrics. Connections are limited per target by `pool.maxConnections`.
 */
import diagnostics from 'node:diagnostics_channel'
import type { UpstreamLimitsConfig } from '../../config/resilience-schema.ts'

/** `portcullis:upstream:overflow` (message type in observe/channels.ts), looked up by name: upstream/ does not import observe/. */
const overflowChannel = diagnostics.channel('portcullis:upstream:overflow')

/** Times each limit refused something (monotonic; Envoy's `*_overflow` counters). */
export interface OverflowCounters {
  /** A request found every connection of its target busy (`pool.maxConnections`) and had to wait. */
  connections: number
  /** A request would have waited beyond `limits.maxPending`: answered 503 UPSTREAM_OVERFLOW_PENDING. */
  pending: number
  /** A request beyond `limits.maxRequests`: answered 503 UPSTREAM_OVERFLOW_REQUESTS. */
  requests: number
  /** A retry refused by `limits.maxRetries` or the retry budget: the failure was answered instead. */
  retries: number
}

export class ResourceLimits {
  /** Infinity when not configured. */
  readonly maxPending: number
  readonly maxRequests: number
  readonly maxRetries: number
  /** Requests waiting for a connection now. */
  pending = 0
  /** Requests in progress now (from the upstream's choice to the response's end). */
  requests = 0
  /** Requests in progress that are being retried now (one each, however many tries). */
  retries = 0
  readonly overflow: OverflowCounters = { connections: 0, pending: 0, requests: 0, retries: 0 }
  /** The upstream's name, for the overflow channel. */
  private readonly upstream: string

  constructor(config: UpstreamLimitsConfig | undefined, upstream = '') {
    this.upstream = upstream
    this.maxPending = config?.maxPending ?? Infinity
    this.maxRequests = config?.maxRequests ?? Infinity
    this.maxRetries = config?.maxRetries ?? Infinity
  }

  /**
   * mayStartRetry tells whether one more request may start retrying: under
   * `maxRetries` and, when a budget is given, under `max(min, percent% of
   * the requests in progress)` (Envoy's retry budget). Counts the refusal.
   */
  mayStartRetry(budget: { percent: number; min: number } | undefined): boolean {
    let cap = this.maxRetries
    if (budget !== undefined)
      cap = Math.min(cap, Math.max(budget.min, Math.floor((budget.percent * this.requests) / 100)))
    if (this.retries < cap) return true
    this.refused('retries')
    return false
  }

  /**
   * refused counts a refusal by a limit (not `connections`, a wait) and
   * publishes it on `portcullis:upstream:overflow` when someone listens: a
   * degraded mode leaves a metric and, through a subscriber, a log line.
   */
  refused(limit: 'pending' | 'requests' | 'retries'): void {
    this.overflow[limit]++
    if (overflowChannel.hasSubscribers)
      overflowChannel.publish({ upstream: this.upstream, limit, count: this.overflow[limit] })
  }
}
