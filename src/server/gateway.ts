/**
 * createGateway: the programmatic entry point. A Gateway owns the listeners,
 * the live connections, the deadline sweeper and the current Runtime; it
 * reloads by swapping the Runtime and shuts down by draining.
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import {
  configSchema,
  type GatewayConfig,
  type GatewayConfigInput,
  type ListenConfig,
} from '../config/schema.ts'
import { Deadlines } from '../core/deadlines.ts'
import type { GatewayHooks } from '../core/hooks.ts'
import { AccessLog } from '../observe/access-log.ts'
import { tlsHandshakeChannel } from '../observe/channels.ts'
import { ErrorLog } from '../observe/error-log.ts'
import { Tracer } from '../observe/tracing/tracer.ts'
import { type StoreContext, StoreRegistry } from '../store/registry.ts'
import type { AdminAttachment, AdminMode } from './admin/local.ts'
import type { ConnectionHost } from './connection-host.ts'
import { DownstreamConnection } from './downstream.ts'
import { watchEvents } from './event-log.ts'
import { DoorHost, forwardEntry, forwardServer, Interception } from './forward-door.ts'
import { HarCapture } from './har-capture.ts'
import { answerPlainHttp } from './plain-http-on-tls.ts'
import { Runtime, shortestTimeout } from './runtime.ts'

export interface GatewayOptions<Ctx extends object = Record<string, unknown>> {
  /** The file the config came from, for reload and messages. */
  configPath?: string
  /** User hooks, run after built-in modules in each phase. */
  hooks?: GatewayHooks<Ctx> | readonly GatewayHooks<Ctx>[]
  /**
   * Bind with SO_REUSEPORT (Linux; Node >= 22.12), so several gateways in one
   * host (worker threads, or an old and a new one during a rolling restart)
   * can listen on the same address and the kernel spreads connections.
   * Default false: a second bind fails with EADDRINUSE as users expect.
   */
  reusePort?: boolean
  /**
   * Where the `shared` store lives: a worker's bootstrap passes the port its
   * supervisor attached to a SharedStoreHost (src/server/workers/worker.ts).
   * Default: none; with one event loop `shared` is a memory store.
   */
  stores?: StoreContext
  /**
   * The error log (upstream failures with their cause, policy and store
   * failures, drain). Default: one built from `config.log` (stderr), closed
   * with the gateway; one passed here is the caller's to close.
   */
  log?: ErrorLog
  /**
   * With `admin:` configured: `serve` (default) runs the admin listener in
   * this process; `worker` only collects metrics and answers the supervisor,
   * which holds the instance's one admin listener (src/server/admin/).
   */
  admin?: AdminMode
  /** The `worker` label of this process's metrics (its cluster id); default '0'. */
  workerLabel?: string
}

/** A listening address, as bound (port 0 resolved). */
export interface BoundAddress {
  host: string
  port: number
  tls: boolean
  /** The forward proxy's listener (`forward.address`). */
  forward?: boolean
}

export interface Gateway {
  /** listen binds every configured listener; rejects (and binds nothing) if one fails. */
  listen(): Promise<void>
  /** close stops accepting, lets in-flight requests finish up to the drain timeout, then closes everything. */
  close(options?: CloseOptions): Promise<void>
  /** reload swaps in a new configuration: new requests use it, running ones finish on the old. */
  reload(config: GatewayConfig): Promise<void>
  /** addresses returns the bound listeners. */
  addresses(): BoundAddress[]
  /** stats reports live counts: what leak tests and the admin API read. */
  stats(): GatewayStats
  /** The configuration in force. */
  readonly config: GatewayConfig
  /**
   * The admin side when `admin:` is configured: `admin.server` is the
   * listening AdminServer (after listen(), in serve mode), whose
   * `register(route)` adds a route; undefined without `admin:`.
   */
  readonly admin: AdminAttachment | undefined
}

/** How a gateway closes. */
export interface CloseOptions {
  /** How long in-flight requests may take; default `timeouts.drain`. */
  drainTimeout?: number
  /**
   * How long idle keep-alive connections are left open first; default 0:
   * closed at once. A worker retired under load (rolling restart) waits a
   * little, so each busy client's next request is answered with `Connection:
   * close` instead of meeting a close it cannot tell from a failure.
   */
  idleGrace?: number
}

/** Live counts of a gateway. */
export interface GatewayStats {
  /** Open client connections. */
  connections: number
  /** Of those, the ones idle between requests (keep-alive). */
  idleConnections: number
  /** Objects waiting on a deadline (connections, exchanges, upstream connections). */
  deadlines: number
  /** Per upstream, per target URL: open and idle pooled connections. */
  upstreams: Record<string, Record<string, { open: number; idle: number }>>
}

/**
 * createGateway builds a gateway from a validated config object, a raw
 * object (validated here, throwing on problems) or a config file path.
 */
export async function createGateway<Ctx extends object = Record<string, unknown>>(
  config: GatewayConfig | GatewayConfigInput | string,
  options: GatewayOptions<Ctx> = {},
): Promise<Gateway> {
  let resolved: GatewayConfig
  if (typeof config === 'string') {
    const { loadConfig, formatProblems } = await import('../config/load.ts')
    const r = await loadConfig(config)
    if (!r.ok) throw new Error(`invalid configuration:\n${formatProblems(r.problems)}`)
    resolved = r.config
    // The admin API's reload action reads the file again.
    options = { configPath: r.file, ...options }
  } else {
    const r = configSchema.safeParse(config)
    if (!r.success) {
      const lines = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      throw new Error(`invalid configuration:\n${lines.join('\n')}`)
    }
    resolved = r.data
  }
  const hooks =
    options.hooks === undefined ? [] : Array.isArray(options.hooks) ? options.hooks : [options.hooks]
  // Loaded only when configured: a gateway without `admin:` loads none of it (node:http included).
  const admin = resolved.admin === undefined ? undefined : (await import('./admin/local.ts')).AdminAttachment
  return new GatewayServer(resolved, hooks as GatewayHooks<never>[], options, admin)
}

class GatewayServer implements Gateway, ConnectionHost {
  runtime: Runtime
  draining = false
  private readonly hooks: readonly GatewayHooks<never>[]
  private readonly deadlines: Deadlines
  private readonly servers: { server: net.Server; tls: boolean; forward?: boolean }[] = []
  private readonly connections = new Set<DownstreamConnection>()
  private accessLog: AccessLog | undefined
  private drained: (() => void) | undefined
  private readonly reusePort: boolean
  /** Where the `shared` store lives (GatewayOptions.stores), for the features that keep state. */
  readonly stores: StoreContext
  /** The stores modules keep state in (rate limits …): built once, kept across reloads. */
  private readonly storeRegistry: StoreRegistry
  /** The forward listener's connections' host, and the CA and leaves of TLS interception. */
  private readonly forwardHost = new DoorHost(this, forwardEntry)
  private readonly interception = new Interception()
  /** The ports listened on, for the forward proxy's "not the proxy itself" check: made once per listen, not per CONNECT (a getsockname each). */
  private ports: number[] | undefined
  private readonly ownPorts = (): number[] => (this.ports ??= this.addresses().map((a) => a.port))
  /** The error log, and whether this gateway made it (and so closes it). */
  readonly log: ErrorLog
  private readonly ownLog: boolean
  /** `forward.har`: the HAR file of the traffic, when configured. */
  private readonly har: HarCapture
  private readonly unwatch: () => void
  /** Spans to an OTLP collector, when `tracing:` is configured (src/observe/tracing). */
  private tracer: Tracer | undefined
  /** The configuration file, for the admin API's reload action. */
  readonly configPath: string | undefined
  readonly admin: AdminAttachment | undefined

  /** `admin`: the AdminAttachment class, loaded by createGateway when `admin:` is configured. */
  constructor(
    config: GatewayConfig,
    hooks: readonly GatewayHooks<never>[],
    options: GatewayOptions<never>,
    admin?: typeof AdminAttachment,
  ) {
    this.hooks = hooks
    // First, so its request-end subscriber sets session.traceId before the logs' run.
    this.tracer = this.tracerFor(config)
    this.ownLog = options.log === undefined
    this.log = options.log ?? new ErrorLog(config.log)
    this.har = new HarCapture(this.log)
    this.unwatch = watchEvents(this, this.log)
    this.reusePort = options.reusePort ?? false
    this.stores = options.stores ?? {}
    this.deadlines = new Deadlines(Deadlines.tickFor(shortestTimeout(config)))
    this.storeRegistry = new StoreRegistry(config.stores, this.stores)
    this.runtime = new Runtime(
      config,
      [...hooks, ...this.har.configure(config)],
      this.deadlines,
      this,
      this.storeRegistry,
      this.ownPorts,
      this.tracer,
    )
    this.setAccessLog(config)
    this.configPath = options.configPath
    if (config.admin !== undefined && admin !== undefined)
      this.admin = new admin(this, options.admin, options.workerLabel)
  }

  /** tracerFor keeps the tracer when `tracing:` did not change, else makes the one it asks for. */
  private tracerFor(config: GatewayConfig): Tracer | undefined {
    if (config.tracing === undefined) return undefined
    return this.tracer?.sameAs(config.tracing) ? this.tracer : new Tracer(this, config.tracing)
  }

  get config(): GatewayConfig {
    return this.runtime.config
  }

  async listen(): Promise<void> {
    await this.storeRegistry.ready()
    try {
      for (const l of this.runtime.config.listen) await this.bind(l)
      const forward = this.runtime.config.forward
      if (forward !== undefined) {
        await this.interception.attach(this.runtime, this)
        await this.listenOn(
          forwardServer((s) => this.accept(s, false, this.forwardHost)),
          forward.address,
          false,
          true,
        )
      }
      await this.admin?.listen()
    } catch (err) {
      await Promise.all(this.servers.map(({ server }) => new Promise((r) => server.close(r))))
      this.servers.length = 0
      throw err
    }
  }

  private bind(l: ListenConfig): Promise<void> {
    const secure = l.tls !== undefined
    const onSocket = (socket: net.Socket) => {
      // Half-open only once the handshake is done: a TLS server created with
      // allowHalfOpen keeps a socket whose client hung up mid-handshake (e.g.
      // it refused our certificate) open until handshakeTimeout, which also
      // held close() that long.
      if (secure) {
        socket.allowHalfOpen = true
        if (tlsHandshakeChannel.hasSubscribers) tlsHandshakeChannel.publish({ gateway: this, ok: true })
      }
      this.accept(socket, secure)
    }
    const server = secure
      ? tls.createServer(
          {
            cert: readFileSync(l.tls!.cert),
            key: readFileSync(l.tls!.key),
            ALPNProtocols: ['http/1.1'],
            // Node's default is 120 s; a handshake is part of the head the
            // client must send in time (slowloris guard, as timeouts.head).
            handshakeTimeout: this.runtime.config.timeouts.head,
          },
          onSocket,
        )
      : // Accepted paused: the connection moves the socket onto its own read buffer (own-read.ts).
        net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, onSocket)
    if (secure)
      server.on('tlsClientError', (err, socket) => {
        if (tlsHandshakeChannel.hasSubscribers) tlsHandshakeChannel.publish({ gateway: this, ok: false })
        if (!answerPlainHttp(err, socket)) socket.destroy()
      })
    return this.listenOn(server, l.address, secure, false)
  }

  private listenOn(
    server: net.Server,
    address: { host: string; port: number },
    secure: boolean,
    forward: boolean,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      const { host, port } = address
      server.listen({ host, port, backlog: 1024, reusePort: this.reusePort }, () => {
        server.off('error', reject)
        server.on('error', () => {}) // accept errors (EMFILE) must not crash the process
        this.servers.push(forward ? { server, tls: secure, forward } : { server, tls: secure })
        this.ports = undefined
        resolve()
      })
    })
  }

  /** adopt serves a socket another door produced (an intercepted TLS connection). */
  adopt(socket: net.Socket, host: ConnectionHost, tls: boolean): void {
    if (this.draining) socket.destroy()
    else this.connections.add(new DownstreamConnection(socket, host, tls))
  }

  private accept(socket: net.Socket, secure: boolean, host: ConnectionHost = this): void {
    if (this.draining) {
      socket.destroy()
      return
    }
    const onAccept = this.runtime.hooks.onAccept
    if (onAccept.length > 0) {
      const info = {
        remoteAddress: socket.remoteAddress ?? '',
        remotePort: socket.remotePort ?? 0,
        localPort: socket.localPort ?? 0,
        tls: secure,
      }
      for (const hook of onAccept) {
        let accepted: boolean
        try {
          accepted = hook(info)
        } catch {
          accepted = false // a throwing filter refuses rather than crashing the listener
        }
        if (!accepted) {
          socket.destroy()
          return
        }
      }
    }
    this.connections.add(new DownstreamConnection(socket, host, secure))
  }

  onConnectionClosed(conn: DownstreamConnection): void {
    this.connections.delete(conn)
    if (this.draining && this.connections.size === 0) this.drained?.()
  }

  addresses(): BoundAddress[] {
    return this.servers.map(({ server, tls, forward }) => {
      const a = server.address() as net.AddressInfo
      return forward
        ? { host: a.address, port: a.port, tls, forward }
        : { host: a.address, port: a.port, tls }
    })
  }

  stats(): GatewayStats {
    const upstreams: GatewayStats['upstreams'] = {}
    for (const [name, u] of this.runtime.upstreams) {
      const targets: Record<string, { open: number; idle: number }> = {}
      for (const t of u.targets) targets[t.url] = { open: t.pool.size, idle: t.pool.idleCount }
      upstreams[name] = targets
    }
    let idleConnections = 0
    for (const c of this.connections) if (c.idle) idleConnections++
    return { connections: this.connections.size, idleConnections, deadlines: this.deadlines.size, upstreams }
  }

  async reload(config: GatewayConfig): Promise<void> {
    const old = this.runtime
    const tracer = this.tracerFor(config)
    const next = new Runtime(
      config,
      [...this.hooks, ...this.har.configure(config)],
      this.deadlines,
      this,
      this.storeRegistry,
      this.ownPorts,
      tracer,
    )
    await this.interception.attach(next, this)
    this.admin?.onRuntime(next.upstreams)
    this.runtime = next
    if (tracer !== this.tracer) void this.tracer?.close()
    this.tracer = tracer
    this.setAccessLog(config)
    this.log.configure(config.log)
    // Idle pooled connections of the old runtime close now; busy ones when their exchange ends.
    old.close()
  }

  async close(options: CloseOptions = {}): Promise<void> {
    if (this.draining) return
    this.draining = true
    await this.admin?.close()
    const drainTimeout = options.drainTimeout ?? this.runtime.config.timeouts.drain
    const end = performance.now() + drainTimeout
    // server.close() calls back only once every connection ended, so it is awaited last.
    const stopped = this.servers.map(({ server }) => new Promise<void>((r) => server.close(() => r())))
    await this.untilDrained(Math.min(options.idleGrace ?? 0, drainTimeout))
    for (const c of this.connections) c.closeIfIdle()
    await this.untilDrained(end - performance.now())
    if (this.connections.size > 0)
      this.log.warn(`drain timeout: closing ${this.connections.size} connections still busy`, {
        drainTimeoutMs: drainTimeout,
      })
    for (const c of this.connections) c.destroy()
    await Promise.all(stopped)
    await this.har.close()
    this.runtime.close()
    this.deadlines.stop()
    await this.storeRegistry.close()
    await this.accessLog?.close()
    await this.tracer?.close()
    this.unwatch()
    if (this.ownLog) await this.log.close()
  }

  /** untilDrained resolves once no connection is left, or after `ms`. */
  private untilDrained(ms: number): Promise<void> {
    if (this.connections.size === 0 || ms <= 0) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms).unref()
      const self = this
      this.drained = done
      function done(): void {
        clearTimeout(timer)
        self.drained = undefined
        resolve()
      }
    })
  }

  private setAccessLog(config: GatewayConfig): void {
    const want = config.accessLog
    if (this.accessLog?.sameAs(want)) return
    const old = this.accessLog
    this.accessLog = want.enabled ? new AccessLog(this, want) : undefined
    void old?.close()
  }
}
