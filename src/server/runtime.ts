/**
 * A Runtime is everything compiled from one configuration: route table,
 * upstreams with their pools, forwarding policy, limits and hooks. A reload
 * builds a new Runtime; requests already running keep the one they started
 * with, new requests take the new one.
 */
import type { GatewayConfig } from '../config/schema.ts'
import type { Deadlines } from '../core/deadlines.ts'
import { compileHooks, type GatewayHooks, type HookLists } from '../core/hooks.ts'
import type { Session } from '../core/session.ts'
import { ForwardRuntime } from '../forward/forward-runtime.ts'
import { forwardModules } from '../forward/forward-routes.ts'
import type { ReaderLimits } from '../http1/request-reader.ts'
import { type ModuleContext, routeAction, routeModuleHooks } from '../modules/registry.ts'
import { requestEndChannel, upstreamHealthChannel } from '../observe/channels.ts'
import { type ForwardingPolicy, type TraceparentSource, trustList } from '../proxy/forwarding.ts'
import { type CompiledRoute, Router } from '../routing/router.ts'
import { StoreRegistry } from '../store/registry.ts'
import { type HealthChecks, startHealth } from '../upstream/health/upstream-health.ts'
import { Upstream } from '../upstream/upstream.ts'
import { UploadCounts, type UploadLimits } from './upload-guard.ts'

export class Runtime {
  readonly config: GatewayConfig
  readonly router: Router
  readonly upstreams: ReadonlyMap<string, Upstream>
  readonly policy: ForwardingPolicy
  private readonly routePolicies = new Map<CompiledRoute, ForwardingPolicy>()
  readonly limits: ReaderLimits
  /** The slow-body defences (upload-guard.ts), and the uploads in progress under them. */
  readonly uploadLimits: UploadLimits
  readonly uploads = new UploadCounts()
  readonly hooks: HookLists
  readonly deadlines: Deadlines
  /** The gateway this runtime belongs to (identifies it on diagnostics channels). */
  readonly owner: object
  /** The forward proxy's phases and pools, when `forward:` is configured. */
  readonly forward: ForwardRuntime | undefined
  /** The upstreams' health checks (src/upstream/health), running from construction to close(). */
  readonly health: HealthChecks

  constructor(
    config: GatewayConfig,
    userHooks: readonly GatewayHooks<never>[],
    deadlines: Deadlines,
    owner: object,
    stores: StoreRegistry = new StoreRegistry(config.stores),
    ownPorts: () => readonly number[] = () => [],
    tracing?: TraceparentSource,
  ) {
    this.config = config
    const context: ModuleContext = { stores, trusts: trustList(config.proxy.trustedProxies) }
    this.hooks = compileHooks(userHooks)
    this.deadlines = deadlines
    this.owner = owner
    this.router = new Router(config.routes, (route) => {
      const modules = routeModuleHooks(route, config, context)
      const action = routeAction(route, config, context)
      if (modules.length === 0 && action === undefined) return this.hooks
      const lists = compileHooks([...(modules as GatewayHooks<never>[]), ...userHooks])
      if (action !== undefined) lists.action.push(action)
      return lists
    })
    const upstreams = new Map<string, Upstream>()
    for (const [name, u] of Object.entries(config.upstreams))
      upstreams.set(name, new Upstream(name, u, deadlines))
    this.upstreams = upstreams
    this.health = startHealth(
      upstreams.values(),
      (kind) => stores.get(kind),
      (e) => {
        if (upstreamHealthChannel.hasSubscribers) upstreamHealthChannel.publish({ gateway: owner, ...e })
      },
    )
    const p = config.proxy
    this.policy = {
      preserveHost: p.preserveHost,
      forwardedHeaders: p.forwardedHeaders,
      via: p.via,
      requestIdHeader: p.requestIdHeader,
      trusts: trustList(p.trustedProxies),
      underscoresInHeaders: p.underscoresInHeaders,
      upgrades: new Set(p.upgrades),
      ...(tracing === undefined ? {} : { tracing }),
    }
    // A route's own preserveHost and upgrades are compiled once here, not looked up per request.
    for (const route of this.router.routes) {
      const { preserveHost, upgrades } = route.config
      if (preserveHost === undefined && upgrades === undefined) continue
      this.routePolicies.set(route, {
        ...this.policy,
        preserveHost: preserveHost ?? this.policy.preserveHost,
        upgrades: upgrades === undefined ? this.policy.upgrades : new Set(upgrades),
      })
    }
    this.forward =
      config.forward === undefined
        ? undefined
        : new ForwardRuntime({
            config: config.forward,
            policy: this.policy,
            hooks: this.hooks,
            userHooks,
            deadlines,
            ownPorts,
            modules: forwardModules(config, context),
          })
    for (const route of this.forward?.routes ?? []) this.routePolicies.set(route, this.forward!.policy)
    this.uploadLimits = {
      bodyBuffer: config.limits.bodyBuffer,
      minUploadRate: config.limits.minUploadRate,
      uploadGrace: config.timeouts.uploadGrace,
      maxUploadsPerClient: config.limits.maxUploadsPerClient,
    }
    this.limits = {
      maxHeadSize: config.limits.maxHeadSize,
      maxHeaders: config.limits.maxHeaders,
      maxTargetLength: config.limits.maxTargetLength,
      maxBodySize: config.limits.maxBodySize,
    }
  }

  /** policyFor is the forwarding policy of a route: the global one, or with the route's own preserveHost. */
  policyFor(route: CompiledRoute): ForwardingPolicy {
    return this.routePolicies.get(route) ?? this.policy
  }

  /**
   * logSession runs onLog hooks (the route's own when it has modules: they
   * release what they hold, e.g. a concurrency slot) and publishes the
   * request's end; observers must not throw into us.
   */
  logSession(session: Session): void {
    const hooks = (session.route as Partial<CompiledRoute> | undefined)?.hooks?.onLog ?? this.hooks.onLog
    for (let i = 0; i < hooks.length; i++) {
      try {
        hooks[i]!(session)
      } catch {
        // A failing logger must not fail the request; it already ended.
      }
    }
    if (requestEndChannel.hasSubscribers) requestEndChannel.publish({ gateway: this.owner, session })
  }

  /** close stops the health checks and the upstream pools of this runtime. */
  close(): void {
    void this.health.stop()
    for (const u of this.upstreams.values()) u.close()
    this.forward?.close()
  }
}

/** shortestTimeout is what the deadline tick is derived from. */
export function shortestTimeout(config: GatewayConfig): number {
  const all: number[] = Object.values(config.timeouts)
  for (const u of Object.values(config.upstreams)) {
    all.push(
      u.timeouts.connect,
      u.timeouts.response,
      u.timeouts.idle,
      u.pool.idleTimeout,
      u.pool.queueTimeout,
      u.retries?.perTryTimeout ?? 0,
    )
  }
  // A route's own try and request timeouts are kept on the same tick: it must not be coarser than they are.
  for (const r of config.routes) {
    all.push(r.timeout ?? 0)
    if (r.retries) all.push(r.retries.perTryTimeout ?? 0)
  }
  if (config.forward !== undefined) all.push(config.forward.timeouts.connect)
  return Math.min(...all.filter((t) => t > 0))
}
