/**
 * The admin listener of an instance run by a Supervisor (--workers N): one
 * listener, in the supervisor, for the whole instance. Reads ask every
 * listening worker over IPC (ask.ts) and merge the answers: counts summed,
 * metrics summed series by series (per-process series carry a `worker`
 * label), a target's drained and weight taken from the first worker (every
 * action reaches all of them). Actions go to every worker and are kept
 * here, so a worker started later (a restart, a replacement) gets them in
 * its start message.
 */
import type { GatewayConfig } from '../../config/schema.ts'
import { apiRoutes } from '../../observe/admin/api.ts'
import type {
  AdminInstance,
  InstanceState,
  TargetAction,
  UpstreamState,
  WorkerState,
} from '../../observe/admin/instance.ts'
import { AdminError } from '../../observe/admin/routes.ts'
import { AdminServer } from '../../observe/admin/server.ts'
import { family } from '../../observe/metrics/collector.ts'
import { mergeSnapshots } from '../../observe/metrics/exposition.ts'
import { loopDelayFamily, ProcessMetrics } from '../../observe/metrics/process.ts'
import type { MetricsSnapshot } from '../../observe/metrics/snapshot.ts'
import { type WorkerRestartMessage, workerRestartChannel } from '../workers/channels.ts'
import type { WorkerHandle } from '../workers/worker-handle.ts'
import type { AdminAnswers, AdminAsk, AdminFailure, WorkerServingState } from './ask.ts'
import { effectiveRoute } from './effective-route.ts'
import './extensions.ts'
import { adminTokens, adminUrl, requiredUnavailable } from './local.ts'
import { TargetOverrides } from './targets.ts'

/** What the admin side needs of the Supervisor. */
export interface SupervisedHost {
  readonly current: GatewayConfig
  readonly configPath: string | undefined
  /** The workers that listen now (replacements and draining ones excluded). */
  listening(): WorkerHandle[]
  /** Whether every place has a listening worker. */
  allServing(): boolean
  addresses(): { host: string; port: number; tls: boolean; forward?: boolean }[]
  reload(config: GatewayConfig): Promise<void>
  log(line: string): void
}

/** A worker that has not answered by then is left out of the answer. */
const ASK_TIMEOUT_MS = 5000

export class SupervisorAdmin implements AdminInstance {
  readonly overrides = new TargetOverrides()
  private readonly host: SupervisedHost
  private server: AdminServer | undefined
  private seq = 0
  private readonly process: ProcessMetrics | undefined
  private readonly restarts = new Map<string, number>()
  private readonly onRestart = (m: unknown) => {
    const cause = (m as WorkerRestartMessage).cause
    this.restarts.set(cause, (this.restarts.get(cause) ?? 0) + 1)
  }

  constructor(host: SupervisedHost) {
    this.host = host
    if (host.current.admin!.metrics) {
      this.process = new ProcessMetrics('supervisor')
      workerRestartChannel.subscribe(this.onRestart)
    }
  }

  async listen(): Promise<void> {
    const admin = this.host.current.admin!
    const server = new AdminServer({
      address: admin.address,
      tokens: adminTokens(admin),
      instance: this,
      routes: apiRoutes(),
      log: (line) => this.host.log(line),
    })
    await server.listen()
    this.server = server
    this.host.log(`portcullis admin listening on ${adminUrl(server.address())}`)
  }

  /** The listener (after listen()): `register(route)` adds a route to it. */
  get adminServer(): AdminServer | undefined {
    return this.server
  }

  async close(): Promise<void> {
    await this.server?.close()
    this.process?.stop()
    if (this.process !== undefined) workerRestartChannel.unsubscribe(this.onRestart)
  }

  config(): GatewayConfig {
    return this.host.current
  }

  route(name: string): Record<string, unknown> | undefined {
    return effectiveRoute(this.host.current, name)
  }

  async state(): Promise<InstanceState> {
    const handles = this.host.listening()
    const answers = await this.askAll<WorkerServingState>(handles, { op: 'state' })
    const workers: WorkerState[] = handles.map((h) => ({
      id: h.id,
      pid: h.pid,
      state: h.state,
      ...(h.sample && {
        heapUsed: h.sample.heapUsed,
        rss: h.sample.rss,
        loopDelayP99: h.sample.loopDelay.p99,
      }),
    }))
    const states = answers.filter((a) => a !== undefined)
    return {
      upstreams: mergeUpstreams(states.map((s) => s.upstreams)),
      connections: states.reduce((n, s) => n + s.connections, 0),
      workers,
      listeners: this.host.addresses(),
    }
  }

  async notReady(): Promise<string[]> {
    const reasons: string[] = []
    if (!this.host.allServing()) reasons.push('not every worker is listening')
    reasons.push(...requiredUnavailable((await this.state()).upstreams))
    return reasons
  }

  async metrics(): Promise<MetricsSnapshot | undefined> {
    if (this.process === undefined) return undefined
    const handles = this.host.listening()
    const snaps = (await this.askAll<MetricsSnapshot | undefined>(handles, { op: 'metrics' })).filter(
      (s) => s !== undefined,
    )
    const workers = family('portcullis_workers', 'Worker processes listening now.', 'gauge', [])
    workers.series.push({ values: [], value: handles.length })
    const restarts = family(
      'portcullis_worker_restarts_total',
      'Workers restarted or replaced, by cause.',
      'counter',
      ['cause'],
    )
    for (const [cause, v] of this.restarts) restarts.series.push({ values: [cause], value: v })
    // The workers' own Sampler measures their loop delay; its latest sample is reported, not measured twice.
    const delays = handles.flatMap((h) =>
      h.sample === undefined ? [] : [{ worker: String(h.id), ...h.sample.loopDelay }],
    )
    const own = { families: [workers, restarts, loopDelayFamily(delays), ...this.process.families()] }
    return mergeSnapshots([...snaps, own])
  }

  async act(action: TargetAction): Promise<string> {
    const handles = this.host.listening()
    const results = await Promise.allSettled(handles.map((h) => this.ask<string>(h, { op: 'act', action })))
    const failed = results.find((r) => r.status === 'rejected')
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
    const url = (results[0] as PromiseFulfilledResult<string> | undefined)?.value
    if (url === undefined) throw new AdminError(503, 'NO_WORKER', 'no worker is listening')
    this.overrides.record(action, url)
    return url
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
    const answers = await this.askAll<unknown>(this.host.listening(), { op: 'topic', name })
    return answers.filter((a) => a !== undefined)
  }

  /** askAll asks every worker; a worker that fails or does not answer in time gives undefined. */
  private askAll<T>(handles: WorkerHandle[], ask: AdminAsk): Promise<(T | undefined)[]> {
    return Promise.all(handles.map((h) => this.ask<T>(h, ask).catch(() => undefined)))
  }

  /** ask sends one ask to a worker and waits for its answer. */
  private ask<T extends AdminAnswers[keyof AdminAnswers]>(h: WorkerHandle, ask: AdminAsk): Promise<T> {
    const seq = ++this.seq
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => done(() => reject(new AdminError(504, 'WORKER_TIMEOUT', `worker ${h.id} did not answer`))),
        ASK_TIMEOUT_MS,
      )
      const onMessage = (m: unknown) => {
        const a = m as { t?: unknown; seq?: unknown; ok?: boolean; value?: unknown } & AdminFailure
        if (a?.t !== 'admin' || a.seq !== seq) return
        done(() => (a.ok ? resolve(a.value as T) : reject(new AdminError(a.status, a.code, a.message))))
      }
      const onExit = () => done(() => reject(new AdminError(503, 'WORKER_EXITED', `worker ${h.id} exited`)))
      const done = (settle: () => void) => {
        clearTimeout(timer)
        h.worker.off('message', onMessage)
        h.worker.off('exit', onExit)
        settle()
      }
      h.worker.on('message', onMessage)
      h.worker.once('exit', onExit)
      h.send({ t: 'admin', seq, ask })
    })
  }
}

/** mergeUpstreams sums each target's counts across workers; its settings come from the first worker. */
function mergeUpstreams(perWorker: UpstreamState[][]): UpstreamState[] {
  const [first, ...rest] = perWorker
  if (first === undefined) return []
  return first.map((u) => {
    const others = rest.map((w) => w.find((x) => x.name === u.name))
    return {
      ...u,
      // Available where every worker has it: what a request can count on.
      available: Math.min(u.available, ...others.map((o) => o?.available ?? u.available)),
      targets: u.targets.map((t) => {
        const same = others.map((o) => o?.targets.find((x) => x.url === t.url))
        const sum = (f: (x: typeof t) => number) => same.reduce((n, x) => n + (x ? f(x) : 0), f(t))
        return {
          ...t,
          inflight: sum((x) => x.inflight),
          pool: { open: sum((x) => x.pool.open), idle: sum((x) => x.pool.idle) },
        }
      }),
    }
  })
}
