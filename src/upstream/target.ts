/**
 * A Target is one origin server of an upstream: its address, its connection
 * pool, and the live state balancers, health checks, breakers and the admin
 * API read and change (weight, drained, in-flight tries, try observers).
 */
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import tls from 'node:tls'
import type { UpstreamConfig } from '../config/schema.ts'
import type { Deadlines } from '../core/deadlines.ts'
import type { ErrorCode } from '../core/errors.ts'
import { ConnectionPool } from './pool.ts'

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
  /** The balancing weight: the configured one until the admin API or slow start changes it. */
  weight: number
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
    this.weight = weight
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
function trustedCas(file: string): string[] {
  return [...tls.getCACertificates('default'), readFileSync(file, 'latin1')]
}
