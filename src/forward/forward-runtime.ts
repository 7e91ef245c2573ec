/**
 * The forward proxy's request phases (ARCHITECTURE.md, "One Session, three
 * sources"). A request on the forward listener is a Session like any other:
 * `source = 'forward'`, the destination it names in `session.destination`.
 * It goes through, in order: the destination parsed (400 if unreadable),
 * proxy authentication (407), the name rules (403), the user's
 * onRequestHead and onRequest hooks, then its action:
 *
 * - absolute-form (`GET http://host/path`): the name resolved, the address
 *   rules applied to the resolved address, and the request proxied by the
 *   usual exchange to that destination's pool (destination-pools.ts), or to
 *   a chained proxy;
 * - CONNECT to a host `mitm.hosts` names: intercepted (mitm/intercept.ts),
 *   each request inside a Session with `source = 'mitm'` (handleInside),
 *   sent to the origin directly or, when a chain names it, over a CONNECT
 *   through the chained proxy (proxyChained);
 * - any other CONNECT: a tunnel (connect-tunnel.ts).
 *
 * A reverse-proxy listener never reaches this file: its requests pay nothing
 * for the forward proxy.
 */
import { GatewayError, toGatewayError } from '../core/errors.ts'
import { compileHooks, type HookLists, type HookResult, runRequestHooks } from '../core/hooks.ts'
import type { Destination, Session } from '../core/session.ts'
import type { ForwardConfig } from '../config/schema.ts'
import type { Deadlines } from '../core/deadlines.ts'
import type { GatewayHooks } from '../core/hooks.ts'
import { policyError } from '../modules/policy-response.ts'
import { allowedUpgrade, type ForwardingPolicy } from '../proxy/forwarding.ts'
import type { CompiledRoute } from '../routing/router.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { authorityOf, parseAuthority } from './authority.ts'
import type { ForwardClient } from './client.ts'
import { connectTo, joinTunnel } from './connect-tunnel.ts'
import { DestinationPools, type DestinationTemplate } from './destination-pools.ts'
import { compilePatterns, DestinationRules } from './destinations.ts'
import { chainConnect, chainHooks, chainVia, forwardRoute, hooksWith } from './forward-routes.ts'
import { ProxyAuth } from './proxy-auth.ts'
import { resolveHost } from './resolve.ts'

/** Intercepts a CONNECT's TLS (mitm/intercept.ts); given by whoever can serve the requests inside. */
export type Interceptor = (
  client: ForwardClient,
  session: Session,
  dest: Destination,
  /** Opens the destination's first upstream connection ahead (connectionStrategy eager): the interceptor says when. */
  ahead?: () => void,
) => void

/** What a ForwardRuntime is built from. */
export interface ForwardOptions {
  config: ForwardConfig
  /** The gateway's forwarding policy; the forward proxy's own is derived from it. */
  policy: ForwardingPolicy
  /** The global hooks, compiled, and as given (to compile chain routes with). */
  hooks: HookLists
  userHooks: readonly GatewayHooks<never>[]
  deadlines: Deadlines
  /** The ports this process listens on (a request to one of them on this machine is a loop). */
  ownPorts: () => readonly number[]
  /** The route modules `forward.route` asks for (forward-routes.ts forwardModules), ahead of the user's hooks. */
  modules?: readonly GatewayHooks[]
}

interface Chain {
  matches: (host: string, port: number) => boolean
  proxy: URL
  route: CompiledRoute
}

export class ForwardRuntime {
  readonly config: ForwardConfig
  /** Host kept as the client named it, no X-Forwarded-* (a forward proxy does not announce its clients). */
  readonly policy: ForwardingPolicy
  readonly route: CompiledRoute
  readonly insideRoute: CompiledRoute
  readonly chains: readonly Chain[]
  /** Set by the server when TLS interception is configured and its CA loaded. */
  interceptor: Interceptor | undefined = undefined
  private readonly hooks: HookLists
  private readonly rules: DestinationRules
  private readonly auth: ProxyAuth | undefined
  private readonly pools: DestinationPools
  private readonly template: DestinationTemplate
  /** The template for `mitm.unverified` destinations: the same, certificate not verified. */
  private readonly unverifiedTemplate: DestinationTemplate
  private readonly unverified: (host: string, port: number) => boolean
  private readonly mitmHosts: (host: string, port: number) => boolean
  private readonly passthrough: (host: string, port: number) => boolean
  /** mitm.connectionStrategy eager: ports (all but sniffPorts, whose scheme the client decides) whose origin is connected ahead. */
  private readonly eager: ((port: number) => boolean) | undefined

  constructor(o: ForwardOptions) {
    const cfg = (this.config = o.config)
    this.policy = { ...o.policy, preserveHost: true, forwardedHeaders: false }
    this.hooks = o.hooks
    // The route modules run before the user's hooks, as on a reverse route (runtime.ts).
    const modules = (o.modules ?? []) as GatewayHooks<never>[]
    const routeHooks = modules.length === 0 ? o.hooks : compileHooks([...modules, ...o.userHooks])
    this.route = forwardRoute('forward', routeHooks, cfg.route)
    this.insideRoute = forwardRoute('mitm', routeHooks, cfg.route)
    this.chains = cfg.chain.map((c, i) => {
      const proxy = new URL(c.proxy)
      const hooks = hooksWith(chainHooks(proxy), [...modules, ...o.userHooks])
      const route = forwardRoute(`forward-chain-${i}`, hooks, cfg.route)
      return { matches: compilePatterns(c.match), proxy, route }
    })
    this.rules = new DestinationRules(cfg, o.ownPorts)
    this.auth = cfg.auth === undefined ? undefined : new ProxyAuth(cfg.auth.realm, cfg.auth.users)
    this.pools = new DestinationPools(1000, o.deadlines)
    this.template = {
      balance: 'round-robin',
      // As an upstream's defaults: idle connections age out after 4 s, so many destinations cost little.
      pool: { maxConnections: 1024, maxIdle: 256, idleTimeout: 4000, queueTimeout: 5000 },
      timeouts: { connect: cfg.timeouts.connect, response: 60_000, idle: 60_000 },
      tls: { ca: cfg.mitm?.upstreamCa, servername: undefined, verify: true },
    }
    this.unverifiedTemplate = { ...this.template, tls: { ...this.template.tls, verify: false } }
    this.unverified = compilePatterns(cfg.mitm?.unverified ?? [])
    this.mitmHosts = compilePatterns(cfg.mitm?.hosts ?? [])
    this.passthrough = compilePatterns(cfg.mitm?.passthrough ?? [])
    const sniffPorts = cfg.mitm?.sniffPorts ?? []
    this.eager = cfg.mitm?.connectionStrategy === 'eager' ? (port) => !sniffPorts.includes(port) : undefined
  }

  /** The routes outside the table whose policy is `policy`. */
  get routes(): CompiledRoute[] {
    return [this.route, this.insideRoute, ...this.chains.map((c) => c.route)]
  }

  /** handle takes a request on the forward listener from its parsed head to its answer. */
  handle(client: ForwardClient, session: Session): void {
    session.source = 'forward'
    session.route = this.route
    const head = session.head
    const connect = head.method === 'CONNECT'
    if (connect) client.closeAfter = true // a refused CONNECT's connection is never reused
    const dest = connect
      ? parseAuthority(head.target, 'https', true)
      : head.absoluteAuthority === undefined
        ? undefined
        : parseAuthority(head.absoluteAuthority, head.absoluteScheme === 'https' ? 'https' : 'http', false)
    if (dest === undefined) {
      client.closeAfter = true
      const why = connect
        ? 'invalid CONNECT authority'
        : 'a forward proxy request needs an absolute-form target'
      return client.respondError(new GatewayError('MALFORMED_REQUEST', why))
    }
    session.destination = dest
    const credentials = takeProxyAuthorization(head.rawHeaders)
    if (this.auth === undefined) return this.checked(client, session, dest)
    this.auth.check(credentials).then(
      (user) => {
        if (client.current !== session) return
        if (user === undefined) return this.challenge(client, session)
        session.consumer = user
        this.checked(client, session, dest)
      },
      (err) => client.current === session && client.respondError(toGatewayError(err)),
    )
  }

  /** handleInside takes a request inside an intercepted TLS connection to `dest`. */
  handleInside(client: ForwardClient, session: Session, dest: Destination): void {
    session.source = 'mitm'
    session.route = this.insideRoute
    session.destination = dest
    takeProxyAuthorization(session.head.rawHeaders)
    const chain = this.chains.length === 0 ? undefined : this.chainFor(dest)
    this.runHooks(client, session, () =>
      chain === undefined
        ? this.proxyTo(client, session, dest, this.insideRoute)
        : this.proxyChained(client, session, dest, chain),
    )
  }

  /** close stops the per-destination pools. */
  close(): void {
    this.pools.close()
  }

  private challenge(client: ForwardClient, session: Session): void {
    client.closeAfter = true
    const answer = policyError(session, 'PROXY_AUTH_REQUIRED', ['Proxy-Authenticate', this.auth!.challenge])
    if (answer.kind === 'respond') client.respond(answer.response)
  }

  private checked(client: ForwardClient, session: Session, dest: Destination): void {
    const refused = this.rules.checkName(dest.host, dest.port)
    if (refused !== undefined) return client.respondError(refused)
    this.runHooks(client, session, () => this.act(client, session, dest))
  }

  private act(client: ForwardClient, session: Session, dest: Destination): void {
    const chain = this.chainFor(dest)
    if (session.method !== 'CONNECT') {
      if (chain === undefined) return this.proxyTo(client, session, dest, this.route)
      session.route = chain.route
      return this.proxyVia(client, session, chain)
    }
    const intercept = this.interceptor
    if (intercept !== undefined && this.intercepts(session, dest)) {
      if (chain !== undefined) {
        // Its requests go through the chained proxy (proxyChained), which resolves the name: only the port rule here.
        const refused = this.rules.checkPort(dest.host, dest.port)
        return refused === undefined ? intercept(client, session, dest) : client.respondError(refused)
      }
      // A host whose pool resolved it lately: that address (the one its requests
      // will go to) is checked, without a new lookup on the way to the 200.
      const key = `${dest.scheme}://${authorityOf(dest)}`
      const known = this.pools.freshAddress(key)
      if (known === undefined)
        return this.resolved(client, session, dest, (address) =>
          intercept(client, session, dest, this.ahead(key, dest, address)),
        )
      const refused = this.rules.checkAddress(dest.host, dest.port, known, true)
      if (refused !== undefined) return client.respondError(refused)
      return intercept(client, session, dest, this.ahead(key, dest, known))
    }
    if (chain !== undefined) return this.tunnelVia(client, session, dest, chain)
    this.resolved(client, session, dest, (address) => this.tunnel(client, session, dest, address))
  }

  /**
   * ahead: with `connectionStrategy: eager` (mitmproxy's default), what opens
   * the intercepted destination's first upstream connection before its first
   * request, so its TCP and TLS handshakes overlap the client's handshake
   * with us. The interceptor calls it once the client's first byte shows a
   * TLS handshake record (mitm/intercept.ts): a CONNECT followed by nothing
   * or garbage opens nothing. Not through a chained proxy.
   */
  private ahead(key: string, dest: Destination, address: string): (() => void) | undefined {
    if (this.eager === undefined || !this.eager(dest.port)) return undefined
    return () =>
      this.pools.upstreamFor(key, dest, address, this.templateFor(dest)).targets[0]!.pool.preconnect()
  }

  /** chainFor: the first chain rule naming the destination, if any. */
  private chainFor(dest: Destination): Chain | undefined {
    return this.chains.find((c) => c.matches(dest.host, dest.port))
  }

  /** intercepts: the first onConnect hook that decides, else mitm.hosts minus passthrough. */
  private intercepts(session: Session, dest: Destination): boolean {
    const hooks = this.hooks.onConnect
    for (let i = 0; i < hooks.length; i++) {
      const decision = hooks[i]!(session as never)
      if (decision !== undefined) return decision === 'intercept'
    }
    return this.mitmHosts(dest.host, dest.port) && !this.passthrough(dest.host, dest.port)
  }

  /** resolved resolves the destination, applies the address rules, then continues with the address. */
  private resolved(
    client: ForwardClient,
    session: Session,
    dest: Destination,
    next: (address: string) => void,
  ): void {
    resolveHost(dest.host).then(
      (address) => {
        if (client.current !== session) return
        const refused = this.rules.checkAddress(dest.host, dest.port, address, session.method === 'CONNECT')
        if (refused !== undefined) return client.respondError(refused)
        next(address)
      },
      (err) => {
        if (client.current === session) client.respondError(toGatewayError(err))
      },
    )
  }

  private tunnel(client: ForwardClient, session: Session, dest: Destination, address: string): void {
    const connectTimeout = this.config.timeouts.connect
    this.openTunnel(client, session, connectTo({ address, port: dest.port, connectTimeout }))
  }

  private tunnelVia(client: ForwardClient, session: Session, dest: Destination, chain: Chain): void {
    session.route = chain.route
    // The chained proxy resolves the name: only the name decides the port here.
    const refused = this.rules.checkPort(dest.host, dest.port)
    if (refused !== undefined) return client.respondError(refused)
    const port = Number(chain.proxy.port || 80)
    resolveHost(chain.proxy.hostname.replace(/^\[|\]$/g, '')).then(
      (address) => {
        if (client.current !== session) return
        const chainRequest = chainConnect(chain.proxy, authorityOf(dest))
        this.openTunnel(
          client,
          session,
          connectTo({ address, port, connectTimeout: this.config.timeouts.connect, chainRequest }),
        )
      },
      (err) => client.current === session && client.respondError(toGatewayError(err)),
    )
  }

  private openTunnel(
    client: ForwardClient,
    session: Session,
    connecting: ReturnType<typeof connectTo>,
  ): void {
    connecting.then(
      ({ socket, rest }) => {
        if (client.current !== session) return socket.destroy()
        session.timings.upstreamConnected = performance.now() - session.t0
        session.target = `tcp://${socket.remoteAddress}:${socket.remotePort}`
        joinTunnel(client, session, socket, rest, this.config.timeouts.tunnelIdle)
      },
      (err) => {
        if (client.current === session) client.respondError(toGatewayError(err))
      },
    )
  }

  /** proxyTo sends a request to the destination's own pool, at the address it resolved to. */
  private proxyTo(client: ForwardClient, session: Session, dest: Destination, route: CompiledRoute): void {
    const key = `${dest.scheme}://${authorityOf(dest)}`
    const ready = this.pools.fresh(key)
    if (ready !== undefined) return this.exchange(client, session, route, ready)
    this.resolved(client, session, dest, (address) =>
      this.exchange(
        client,
        session,
        route,
        this.pools.upstreamFor(key, dest, address, this.templateFor(dest)),
      ),
    )
  }

  /** templateFor: the per-destination template, unverified TLS only where `mitm.unverified` names the destination. */
  private templateFor(dest: Destination): DestinationTemplate {
    return dest.scheme === 'https' && this.unverified(dest.host, dest.port)
      ? this.unverifiedTemplate
      : this.template
  }

  /**
   * proxyChained sends a request inside interception to a destination behind
   * a chained proxy: its own pool, whose connections are each a CONNECT
   * through the proxy, then TLS to the origin (forward-routes.ts chainVia).
   */
  private proxyChained(client: ForwardClient, session: Session, dest: Destination, chain: Chain): void {
    const key = `${chain.proxy.host}>${dest.scheme}://${authorityOf(dest)}`
    const upstream =
      this.pools.fresh(key) ??
      this.pools.upstreamFor(
        key,
        dest,
        `via ${chain.proxy.host}`,
        this.templateFor(dest),
        chainVia(chain.proxy, dest, this.config.timeouts.connect),
      )
    this.exchange(client, session, this.insideRoute, upstream)
  }

  private proxyVia(client: ForwardClient, session: Session, chain: Chain): void {
    const proxy = chain.proxy
    const dest: Destination = {
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: Number(proxy.port || 80),
      scheme: 'http',
    }
    const key = `chain:${proxy.host}`
    const ready = this.pools.fresh(key)
    if (ready !== undefined) return this.exchange(client, session, chain.route, ready)
    resolveHost(dest.host).then(
      (address) => {
        if (client.current !== session) return
        this.exchange(client, session, chain.route, this.pools.upstreamFor(key, dest, address, this.template))
      },
      (err) => client.current === session && client.respondError(toGatewayError(err)),
    )
  }

  private exchange(client: ForwardClient, session: Session, route: CompiledRoute, upstream: Upstream): void {
    const head = session.head
    // Decided once, as for reverse routes (server/phases.ts): only allowed upgrades pass.
    if (head.upgradeProtocol !== undefined)
      head.upgradeProtocol = allowedUpgrade(head.upgradeProtocol, this.policy.upgrades)
    client.proxy(session, route, upstream)
  }

  /** runHooks runs the global onRequestHead then the route's onRequest hooks (modules, then the user's); `next` continues. */
  private runHooks(client: ForwardClient, session: Session, next: () => void): void {
    const onRequestHead = this.hooks.onRequestHead
    const onRequest = this.route.hooks.onRequest // the same lists as insideRoute's
    if (onRequestHead.length === 0 && onRequest.length === 0) return next()
    const all = [...onRequestHead, ...onRequest] as Parameters<typeof runRequestHooks>[0]
    runRequestHooks(all, session, (err: unknown, result: HookResult | undefined) => {
      if (client.current !== session) return
      if (err !== undefined) client.respondError(toGatewayError(err, 'HOOK_FAILED'))
      else if (result !== undefined && result.kind === 'respond') client.respond(result.response)
      else next()
    })
  }
}

/**
 * takeProxyAuthorization removes `Proxy-Authorization` (and the obsolete
 * `Proxy-Connection`, also dropped by forwarding.ts) from the request's
 * fields and returns its value: it is for this hop only (RFC 9110 §11.7.2)
 * and never forwarded or logged.
 */
function takeProxyAuthorization(raw: string[]): string | undefined {
  let value: string | undefined
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const name = raw[i]!.toLowerCase()
    if (name === 'proxy-authorization') {
      value = raw[i + 1]
      raw.splice(i, 2)
    } else if (name === 'proxy-connection') raw.splice(i, 2)
  }
  return value
}
