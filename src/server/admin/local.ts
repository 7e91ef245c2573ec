/**
 * The admin side of one serving gateway process. With `admin:` configured,
 * every gateway gets an AdminAttachment: it collects metrics (when
 * `admin.metrics` is on), starts the serving extensions, keeps the target
 * overrides across reloads and, unless it is a worker (whose supervisor
 * holds the one admin listener of the instance, supervised.ts), runs the
 * admin listener itself with a LocalInstance.
 */
import cluster from 'node:cluster'
import type { GatewayConfig } from '../../config/schema.ts'
import { apiRoutes } from '../../observe/admin/api.ts'
import { ServingExtensions } from '../../observe/admin/extensions.ts'
import type { AdminInstance, InstanceState, TargetAction } from '../../observe/admin/instance.ts'
import { AdminError } from '../../observe/admin/routes.ts'
import { AdminServer } from '../../observe/admin/server.ts'
import type { MetricsSnapshot } from '../../observe/metrics/snapshot.ts'
import type { Upstream } from '../../upstream/upstream.ts'
import type { AdminAsk, AdminFailure } from './ask.ts'
import { effectiveRoute } from './effective-route.ts'
import './extensions.ts'
import { GatewayMetrics } from './gateway-metrics.ts'
import { applyAction, TargetOverrides, upstreamStates } from './targets.ts'

/** What the attachment needs of its gateway (GatewayServer implements it). */
export interface AdminHost {
  readonly runtime: { readonly config: GatewayConfig; readonly upstreams: ReadonlyMap<string, Upstream> }
  readonly draining: boolean
  readonly configPath: string | undefined
  stats(): { connections: number; idleConnections?: number }
  addresses(): { host: string; port: number; tls: boolean; forward?: boolean }[]
  reload(config: GatewayConfig): Promise<void>
}

/** How a gateway takes part: `serve` runs the listener here; `worker` answers its supervisor. */
export type AdminMode = 'serve' | 'worker'

export class AdminAttachment {
  readonly overrides = new TargetOverrides()
  readonly metrics: GatewayMetrics | undefined
  readonly extensions: ServingExtensions
  /** The admin listener, in `serve` mode once listening: `register` adds routes to it. */
  server: AdminServer | undefined
  private readonly host: AdminHost
  private readonly mode: AdminMode

  /**
   * `mode` defaults to `worker` in a cluster worker (the Supervisor's) and
   * `serve` elsewhere; `workerLabel` to the cluster worker id, '0' in one process.
   */
  constructor(host: AdminHost, mode?: AdminMode, workerLabel?: string) {
    this.host = host
    this.mode = mode ?? (cluster.isWorker ? 'worker' : 'serve')
    workerLabel ??= String(cluster.worker?.id ?? 0)
    const admin = host.runtime.config.admin!
    this.metrics = admin.metrics ? new GatewayMetrics(host, workerLabel, this.mode === 'serve') : undefined
    this.extensions = new ServingExtensions(host)
  }

  /** listen starts the admin listener (serve mode). */
  async listen(): Promise<void> {
    if (this.mode !== 'serve') return
    const admin = this.host.runtime.config.admin!
    const server = new AdminServer({
      address: admin.address,
      tokens: adminTokens(admin),
      instance: new LocalInstance(this.host, this),
      routes: apiRoutes(),
      log: (line) => process.stderr.write(`${line}\n`),
    })
    await server.listen()
    this.server = server
    process.stderr.write(`portcullis admin listening on ${adminUrl(server.address())}\n`)
  }

  /** act applies a target action to the running runtime and remembers it for the next ones. */
  act(action: TargetAction): string {
    const url = applyAction(this.host.runtime.upstreams, action)
    this.overrides.record(action, url)
    return url
  }

  /**
   * onRuntime re-applies the operator's target actions to a new runtime
   * (reload), and keeps the counters of the upstreams it replaces.
   */
  onRuntime(upstreams: ReadonlyMap<string, Upstream>): void {
    this.overrides.applyTo(upstreams)
    this.metrics?.retire(this.host.runtime.upstreams)
  }

  /**
   * answer serves an ask from the supervisor (worker mode): the value, or
   * the AdminError's parts when it failed.
   */
  answer(ask: AdminAsk): { ok: true; value: unknown } | ({ ok: false } & AdminFailure) {
    try {
      switch (ask.op) {
        case 'state':
          return {
            ok: true,
            value: {
              upstreams: upstreamStates(this.host.runtime.upstreams),
              connections: this.host.stats().connections,
            },
          }
        case 'metrics':
          return { ok: true, value: this.metrics?.snapshot() }
        case 'act':
          return { ok: true, value: this.act(ask.action) }
        case 'topic':
          return { ok: true, value: this.extensions.topic(ask.name) }
      }
    } catch (err) {
      if (err instanceof AdminError)
        return { ok: false, status: err.status, code: err.code, message: err.message }
      return { ok: false, status: 500, code: 'INTERNAL_ERROR', message: 'the worker failed to answer' }
    }
  }

  async close(): Promise<void> {
    await this.server?.close()
    this.metrics?.stop()
    this.extensions.stop()
  }
}

/** adminUrl is the admin listener's base URL, for the line that says where it listens. */
export function adminUrl(a: { host: string; port: number }): string {
  return `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`
}

/** adminTokens are the configured tokens by name (`token` is `default`). */
export function adminTokens(admin: NonNullable<GatewayConfig['admin']>): Record<string, string> {
  const tokens: Record<string, string> = { ...admin.tokens }
  if (admin.token !== undefined) tokens.default = admin.token
  return tokens
}

/** LocalInstance serves the admin API of one gateway in this process. */
class LocalInstance implements AdminInstance {
  private readonly host: AdminHost
  private readonly attachment: AdminAttachment

  constructor(host: AdminHost, attachment: AdminAttachment) {
    this.host = host
    this.attachment = attachment
  }

  config(): GatewayConfig {
    return this.host.runtime.config
  }

  route(name: string): Record<string, unknown> | undefined {
    return effectiveRoute(this.host.runtime.config, name)
  }

  async state(): Promise<InstanceState> {
    const mem = process.memoryUsage()
    return {
      upstreams: upstreamStates(this.host.runtime.upstreams),
      connections: this.host.stats().connections,
      workers: [{ id: 0, pid: process.pid, state: 'listening', heapUsed: mem.heapUsed, rss: mem.rss }],
      listeners: this.host.addresses(),
    }
  }

  async notReady(): Promise<string[]> {
    const reasons: string[] = []
    if (this.host.draining) reasons.push('draining')
    if (this.host.addresses().length === 0) reasons.push('not listening')
    reasons.push(...requiredUnavailable(upstreamStates(this.host.runtime.upstreams)))
    return reasons
  }

  async metrics(): Promise<MetricsSnapshot | undefined> {
    return this.attachment.metrics?.snapshot()
  }

  async act(action: TargetAction): Promise<string> {
    return this.attachment.act(action)
  }

  async reload(): Promise<void> {
    const path = this.host.configPath
    if (path === undefined)
      throw new AdminError(409, 'NO_CONFIG_FILE', 'this gateway was not started from a configuration file')
    const { loadConfig, formatProblems } = await import('../../config/load.ts')
    const r = await loadConfig(path)
    if (!r.ok) throw new AdminError(422, 'INVALID_CONFIG', formatProblems(r.problems))
    await this.host.reload(r.config)
  }

  async topic(name: string): Promise<unknown[]> {
    const data = this.attachment.extensions.topic(name)
    return data === undefined ? [] : [data]
  }
}

/** requiredUnavailable names the `required: true` upstreams with no available target. */
export function requiredUnavailable(
  upstreams: readonly { name: string; required: boolean; available: number }[],
): string[] {
  return upstreams
    .filter((u) => u.required && u.available === 0)
    .map((u) => `upstream ${u.name} has no available target`)
}
