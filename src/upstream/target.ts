/**
 * A Target is one origin server of an upstream: its address, its connection
 * pool, and the live state balancers, health checks, breakers and the admin
 * API read and change (weight, drained, in-flight tries, try observers).
 */
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { performance } from 'node:perf_hooks'
import tls from 'node:tls'
import type { UpstreamConfig } from '../config/schema.ts'
import type { Deadlines } from '../core/deadlines.ts'
import type { ErrorCode } from '../core/errors.ts'
import { ConnectionPool } from './pool.ts'
import type { ErrorRateBreaker } from './circuit/breaker.ts'

/** The share of its weight a target starts slow start with. */
const SLOW_START_FLOOR = 0.1

/** A try on `target` ended: `status` 0 means no response head arrived; `code` is set on failure. */
export type TryObserver = (target: Target, status: number, code: ErrorCode | undefined, ms: number) => void

export class Target {
  /** The configured URL, for logs. */
  readonly url: string
  /** `scheme://host:port`, what logs and Session.target show. */
  readonly origin: string
  /** The Host header value for this target (`host[:port]`, as in the URL). */
  readonly hostHeader: string
  /** Path prefix to put before forwarded paths ('' when the URL has none). */
  readonly basePath: string
  /** Where the pool connects instead of the URL's host (an address it resolved to); undefined: the host. */
  readonly address: string | undefined
  /**
   * performance.now() when Upstream.refresh() last saw this target become
   * available (healthy again, undrained, added by DNS); 0 when it was
   * available from the start. Slow start ramps the weight from here.
   */
  availableSince = 0
  /** The latency-aware balancer's moving average of try durations (peak-EWMA), ms, as of the last try; 0 otherwise. */
  latencyMs = 0
  /** The weight set by the configuration or the admin API (see `weight`). */
  private baseWeight = 1
  /** performance.now() when slow start ends; 0 when not ramping. */
  private rampUntil = 0
  private rampWindow = 0
  readonly pool: ConnectionPool
  /** Drained by an operator: no new requests (those in flight finish). */
  drained = false
  /** Tries on this target that started and have not ended. */
  inflight = 0
  /**
   * Called when a try on this target ends, in registration order: passive
   * health, circuit breakers and latency-aware balancers register here. An
   * upstream using none of them has an empty list and pays one length check.
   */
  readonly tryObservers: TryObserver[] = []
  /** The error-rate circuit breaker (src/upstream/circuit), or null when the upstream has none. */
  breaker: ErrorRateBreaker | null = null
  /**
   * Health state (src/upstream/health), plain fields the admin API reads.
   * `healthy`: the active checks' verdict (true when there are none).
   */
  healthy = true
  /** Ejected by passive checks until this time (Date.now() ms); 0 when not ejected. */
  ejectedUntil = 0
  /** Ejections so far in a row (each lasts longer); back to 0 after a quiet spell. */
  ejections = 0
  /** Failed tries in a row seen by passive checks in this worker. */
  consecutiveFailures = 0

  /**
   * `address`, when given, is where to connect instead of resolving the URL's
   * host (the forward proxy resolved and checked it); the URL's host stays the
   * name for Host, SNI and certificate checks.
   */
  constructor(url: string, weight: number, config: UpstreamConfig, deadlines: Deadlines, address?: string) {
    const u = new URL(url)
    const secure = u.protocol === 'https:'
    const name = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
    const host = address ?? name
    const port = u.port === '' ? (secure ? 443 : 80) : Number(u.port)
    this.url = url
    this.origin = `${u.protocol}//${u.host}`
    this.hostHeader = u.host
    this.basePath = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '')
    this.baseWeight = weight
    this.address = address
    this.pool = new ConnectionPool(
      {
        host,
        port,
        tls: secure,
        servername: config.tls.servername ?? (isIP(name) === 0 ? name : undefined),
        ca: secure && config.tls.ca !== undefined ? trustedCas(config.tls.ca) : undefined,
        verify: config.tls.verify,
      },
      {
        maxConnections: config.pool.maxConnections,
        maxIdle: config.pool.maxIdle,
        idleTimeout: config.pool.idleTimeout,
        connectTimeout: config.timeouts.connect,
      },
      deadlines,
    )
  }

  /**
   * The balancing weight balancers read: the configured one (or what the
   * admin API set), lowered during slow start. Setting it sets the
   * configured weight; for consistent hashing call `Upstream.refresh()`
   * after, which rebuilds the ring when a weight changed.
   */
  get weight(): number {
    return this.rampUntil === 0 ? this.baseWeight : this.rampedWeight()
  }

  set weight(w: number) {
    this.baseWeight = w
  }

  /** The weight without slow start's ramp: the configured one or what the admin API set. */
  get configuredWeight(): number {
    return this.baseWeight
  }

  /**
   * becameAvailable stamps `availableSince` (Upstream.refresh() calls it for
   * a target newly in `available`) and, with a slow-start `window` > 0 ms,
   * starts ramping the weight: from 10% (Envoy's default min_weight_percent,
   * so a new target is not left idle) up to the full weight linearly over
   * the window, as Envoy's slow_start_config with aggression 1.
   */
  becameAvailable(now: number, window: number): void {
    this.availableSince = now
    if (window <= 0) return
    this.rampWindow = window
    this.rampUntil = now + window
  }

  /** The weight while slow start runs; the ramp ends by itself once its window has passed. */
  private rampedWeight(): number {
    const now = performance.now()
    if (now >= this.rampUntil) {
      this.rampUntil = 0
      return this.baseWeight
    }
    return this.baseWeight * Math.max(SLOW_START_FLOOR, (now - this.availableSince) / this.rampWindow)
  }

  /** tryStarted: the exchange picked this target for a try. */
  tryStarted(): void {
    this.inflight++
  }

  /**
   * tryEnded: a try on this target ended, with the response status (0 when no
   * response head arrived), the error code when it failed, and its duration.
   */
  tryEnded(status: number, code: ErrorCode | undefined, ms: number): void {
    this.inflight--
    const observers = this.tryObservers
    for (let i = 0; i < observers.length; i++) observers[i]!(this, status, code, ms)
  }
}

/**
 * trustedCas is Node's default CA list (bundled roots plus NODE_EXTRA_CA_CERTS)
 * plus the certificates of a PEM file: Node's `ca` option replaces the
 * defaults, and an operator adding a private CA still wants public ones.
 */
export function trustedCas(file: string): string[] {
  return [...tls.getCACertificates('default'), readFileSync(file, 'latin1')]
}
