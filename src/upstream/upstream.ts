/**
 * An Upstream is a named group of targets with a balancer; a Target is one
 * origin server with its connection pool.
 */
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import tls from 'node:tls'
import type { UpstreamConfig } from '../config/schema.ts'
import type { Deadlines } from '../core/deadlines.ts'
import type { Session } from '../core/session.ts'
import type { Balancer } from './balancers/balancer.ts'
import { RoundRobin } from './balancers/round-robin.ts'
import { ConnectionPool } from './pool.ts'

export class Target {
  /** The configured URL, for logs. */
  readonly url: string
  /** `scheme://host:port`, what logs and Session.target show. */
  readonly origin: string
  /** The Host header value for this target (`host[:port]`, as in the URL). */
  readonly hostHeader: string
  /** Path prefix to put before forwarded paths ('' when the URL has none). */
  readonly basePath: string
  readonly weight: number
  readonly pool: ConnectionPool

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
}

/**
 * trustedCas is Node's default CA list (bundled roots plus NODE_EXTRA_CA_CERTS)
 * plus the certificates of a PEM file: Node's `ca` option replaces the
 * defaults, and an operator adding a private CA still wants public ones.
 */
function trustedCas(file: string): string[] {
  return [...tls.getCACertificates('default'), readFileSync(file, 'latin1')]
}

export class Upstream {
  readonly name: string
  readonly targets: readonly Target[]
  readonly config: UpstreamConfig
  private readonly balancer: Balancer<Target>

  /** `address`: where every target connects, see Target (the forward proxy's per-destination upstreams). */
  constructor(name: string, config: UpstreamConfig, deadlines: Deadlines, address?: string) {
    this.name = name
    this.config = config
    this.targets = config.targets.map((t) => new Target(t.url, t.weight, config, deadlines, address))
    this.balancer = new RoundRobin<Target>()
  }

  /** pick chooses a target for the session with the configured balancer. */
  pick(session: Session): Target | undefined {
    return this.balancer.pick(this.targets, session)
  }

  /** close stops every pool; busy connections close when their exchange ends. */
  close(): void {
    for (const t of this.targets) t.pool.close()
  }
}
