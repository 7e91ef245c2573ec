/**
 * The Supervisor runs N gateways as cluster worker processes and keeps N of
 * them serving: it restarts one that crashes (with exponential backoff when
 * it keeps crashing) or stops answering its heartbeat, replaces one that
 * stays over a memory limit (the new one listens before the old one drains),
 * sends every worker a configuration it validated once (SIGHUP), and rolls
 * new code onto all of them one at a time (SIGUSR2). The listening socket is
 * this process's: the workers accept from it (`supervisor.accept: shared`,
 * cluster's SCHED_NONE) or this process hands connections out in turn
 * (`round-robin`, SCHED_RR). docs/architecture.md ("Every core") has the
 * measurements behind choosing processes over threads, and shared accept.
 */
import cluster from 'node:cluster'
import { fileURLToPath } from 'node:url'
import type { GatewayConfig, ListenConfig } from '../../config/schema.ts'
import { ipcPort, SharedStoreHost } from '../../store/shared.ts'
import type { BoundAddress, CloseOptions } from '../gateway.ts'
import { Backoff } from './backoff.ts'
import { type RestartCause, workerRestartChannel, workerSampleChannel } from './channels.ts'
import { type FromWorker, isFromWorker } from './messages.ts'
import type { SupervisedHost, SupervisorAdmin } from '../admin/supervised.ts'
import { type WorkerExit, WorkerHandle } from './worker-handle.ts'

export interface SupervisorOptions {
  /** How many workers to keep serving (at least 1). */
  workers: number
  /** The validated configuration; its `supervisor:` section tunes heartbeats, backoff and the memory watchdog. */
  config: GatewayConfig
  /** A module whose default export is the workers' GatewayHooks (functions cannot be sent to a process). */
  hooks?: string
  /** The configuration file, for the admin API's reload action. */
  configPath?: string
  /** Where restart and lifecycle lines go, with their level (default info); default stderr. */
  log?: (line: string, level?: 'info' | 'warn' | 'error') => void
}

/** One worker as the supervisor reports it. */
export interface WorkerInfo {
  id: number
  pid: number
  slot: number
  state: WorkerHandle['state']
}

// The worker sits beside this file: worker.ts when run from the sources,
// worker.js in the built package (dist/), which tsc does not rewrite in a URL.
const WORKER_ENTRY = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url),
)
/** A worker that has not listened by then is killed (and, after the first start, restarted). */
const START_TIMEOUT_MS = 30_000
/**
 * How long a retired worker leaves its idle keep-alive connections open. A
 * busy client's next request is then answered with `Connection: close`; an
 * idle connection closed at once may cross that request on the wire, and the
 * client sees a reset it cannot tell from a failure.
 */
const RETIRE_IDLE_GRACE_MS = 500
/** A worker that has not applied a reload by then fails it. */
const RELOAD_TIMEOUT_MS = 10_000

export class Supervisor {
  private config: GatewayConfig
  /** Listeners are bound once: a new `listen:` takes effect on a full restart, as in one process. */
  private readonly listenConfig: ListenConfig[]
  private readonly options: SupervisorOptions
  private readonly log: (line: string, level?: 'info' | 'warn' | 'error') => void
  /** The worker serving each of the N places. */
  private readonly slots: (WorkerHandle | undefined)[]
  private readonly backoffs: Backoff[]
  private readonly replacing = new Set<number>()
  private readonly all = new Set<WorkerHandle>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly store = new SharedStoreHost()
  private heartbeat: NodeJS.Timeout | undefined
  private bound: BoundAddress[] = []
  private closing = false
  /** Set once every first worker listened: before that, a worker that dies fails listen() instead of restarting. */
  private serving = false
  private reloadSeq = 0
  private rolling: Promise<void> = Promise.resolve()
  /** The instance's one admin listener, when `admin:` is configured, from listen() on (src/server/admin/supervised.ts). */
  admin: SupervisorAdmin | undefined

  constructor(options: SupervisorOptions) {
    this.options = options
    this.config = options.config
    this.listenConfig = options.config.listen
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`))
    this.slots = Array.from({ length: Math.max(1, options.workers) }, () => undefined)
    const b = options.config.supervisor.restartBackoff
    this.backoffs = this.slots.map(() => new Backoff(b.initial, b.max))
    // Either way the listening socket lives in this process, so a worker that
    // closes its listener (retired, crashed) never drops a queued connection.
    // Node fixes the policy at the first fork: one supervisor per process.
    const accept = options.config.supervisor.accept
    cluster.schedulingPolicy = accept === 'round-robin' ? cluster.SCHED_RR : cluster.SCHED_NONE
    // Node's flags pass on (the bin's V8 tuning), the test runner's do not.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--test'))
    cluster.setupPrimary({ exec: WORKER_ENTRY, serialization: 'advanced', execArgv })
  }

  /** The configuration in force (the last one every worker accepted). */
  get current(): GatewayConfig {
    return this.config
  }

  /**
   * listen starts every worker and resolves once all listen; if one cannot
   * (address in use, a bad certificate), it stops them all and rejects with
   * that worker's reason.
   */
  async listen(): Promise<void> {
    // Loaded only when configured (node:http and the metrics with it); before
    // the first fork, since start messages carry the admin's target overrides.
    if (this.config.admin !== undefined) {
      const { SupervisorAdmin } = await import('../admin/supervised.ts')
      this.admin = new SupervisorAdmin(this.adminHost())
    }
    const started = this.slots.map((_, slot) => (this.slots[slot] = this.fork(slot)))
    const ok = await Promise.all(started.map((h) => h.ready))
    if (ok.every(Boolean)) {
      this.serving = true
      this.heartbeat = setInterval(() => this.beat(), this.config.supervisor.heartbeatInterval)
      try {
        await this.admin?.listen()
      } catch (err) {
        await this.close({ drainTimeout: 0 })
        throw err
      }
      return
    }
    const failed = started.find((_, i) => !ok[i])!
    await this.close({ drainTimeout: 0 })
    throw new Error(failed.failure ?? `worker exited before listening (${failed.killCause ?? 'crashed'})`)
  }

  /** addresses are the listeners as bound (port 0 resolved by the first worker). */
  addresses(): BoundAddress[] {
    return this.bound
  }

  /** workers lists the live workers, replacements and draining ones included. */
  workers(): WorkerInfo[] {
    return [...this.all].map((h) => ({ id: h.id, pid: h.pid, slot: h.slot, state: h.state }))
  }

  /**
   * reload sends a configuration, validated once by the caller, to every
   * worker and resolves when all applied it; rejects naming the workers that
   * failed (the others keep the new one). Later workers start with it.
   */
  async reload(config: GatewayConfig): Promise<void> {
    this.config = config
    const seq = ++this.reloadSeq
    const live = [...this.all].filter((h) => h.state === 'listening')
    const errors = await Promise.all(live.map((h) => this.reloadOne(h, config, seq)))
    const failed = errors.filter((e) => e !== undefined)
    if (failed.length > 0) throw new Error(failed.join('; '))
  }

  private reloadOne(h: WorkerHandle, config: GatewayConfig, seq: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => done(`worker ${h.id}: no answer in ${RELOAD_TIMEOUT_MS} ms`),
        RELOAD_TIMEOUT_MS,
      )
      const onMessage = (m: unknown) => {
        if (isFromWorker(m) && m.t === 'reloaded' && m.seq === seq)
          done(m.error && `worker ${h.id}: ${m.error}`)
      }
      const done = (error: string | undefined) => {
        clearTimeout(timer)
        h.worker.off('message', onMessage)
        resolve(error)
      }
      h.worker.on('message', onMessage)
      void h.exited.then(() => done(undefined)) // it is gone; its successor starts with `config`
      h.send({ t: 'reload', seq, config })
    })
  }

  /**
   * restart rolls every worker onto the code on disk, one place at a time:
   * a new process starts and listens, then the old one stops accepting and
   * drains. A new worker that fails to start leaves the old one serving.
   */
  restart(): Promise<void> {
    this.rolling = this.rolling.then(async () => {
      let replaced = 0
      for (let slot = 0; slot < this.slots.length && !this.closing; slot++) {
        if (await this.replace(slot, 'ROLLING_RESTART', 'rolling restart')) replaced++
      }
      this.log(`portcullis: rolling restart done: ${replaced} of ${this.slots.length} workers replaced`)
    })
    return this.rolling
  }

  /** reopenLogs asks every worker to reopen its log files (SIGUSR1 reached this process). */
  reopenLogs(): void {
    for (const h of this.all) h.send({ t: 'reopen' })
  }

  /** close drains every worker (stop accepting, finish in-flight requests up to the drain timeout) and waits for them to exit. */
  async close(options: CloseOptions = {}): Promise<void> {
    this.closing = true
    clearInterval(this.heartbeat)
    await this.admin?.close()
    for (const t of this.timers) clearTimeout(t)
    const drainTimeout = options.drainTimeout ?? this.config.timeouts.drain
    const all = [...this.all]
    for (const h of all) h.retire(drainTimeout, 0)
    await Promise.all(all.map((h) => h.exited))
    this.store.close()
  }

  /** adminHost is the view of this supervisor its admin listener reads. */
  private adminHost(): SupervisedHost {
    const self = this
    return {
      get current() {
        return self.config
      },
      configPath: this.options.configPath,
      listening: () => [...this.all].filter((h) => h.state === 'listening'),
      allServing: () => this.slots.every((h) => h?.state === 'listening'),
      addresses: () => this.bound,
      reload: (config) => this.reload(config),
      log: (line) => this.log(line),
    }
  }

  private fork(slot: number): WorkerHandle {
    const h = new WorkerHandle(cluster.fork(), slot)
    this.all.add(h)
    this.store.attach(ipcPort(h.worker))
    h.worker.on('message', (m: unknown) => {
      if (isFromWorker(m)) this.onWorkerMessage(h, m)
    })
    const timer = setTimeout(() => h.kill(`did not listen within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS)
    void h.ready.then(() => clearTimeout(timer))
    void h.exited.then((exit) => this.onExit(h, exit))
    return h
  }

  private onWorkerMessage(h: WorkerHandle, m: FromWorker): void {
    if (m.t === 'hello') {
      // A stop sent before the worker listened for messages was lost: say it again.
      if (h.retired) return h.send({ t: 'stop', drainTimeout: 0, idleGrace: 0 })
      const config = { ...this.config, listen: this.listenConfig }
      const sampleInterval = this.config.supervisor.sampleInterval
      const overrides = this.admin?.overrides.actions()
      h.send({ t: 'start', config, hooks: this.options.hooks, sampleInterval, overrides })
      return
    }
    h.onMessage(m)
    if (m.t === 'listening') {
      if (this.bound.length === 0) this.bound = m.addresses
      this.log(`portcullis: worker ${h.id} (pid ${h.pid}) listening`)
    } else if (m.t === 'sample') {
      if (workerSampleChannel.hasSubscribers)
        workerSampleChannel.publish({ worker: h.id, pid: h.pid, sample: m.sample })
      const over = h.overMemory(this.config.supervisor.maxMemory)
      if (over !== undefined && this.slots[h.slot] === h)
        void this.replace(h.slot, 'WORKER_MEMORY_LIMIT', over)
    }
  }

  /** beat pings every worker and kills one whose event loop has been silent too long (a busy loop, a deadlock). */
  private beat(): void {
    const timeout = this.config.supervisor.heartbeatTimeout
    for (const h of this.all) {
      const silent = h.heartbeat(timeout)
      if (silent !== undefined) {
        h.kill(`did not answer its heartbeat for ${Math.round(silent)} ms`, 'WORKER_HEARTBEAT_TIMEOUT')
      }
    }
  }

  /** onExit restarts the worker of a place after a crash, waiting as the backoff says. */
  private onExit(h: WorkerHandle, exit: WorkerExit): void {
    this.all.delete(h)
    if (!this.serving || this.closing || h.retired || this.slots[h.slot] !== h) return
    this.slots[h.slot] = undefined
    // A replacement being started takes the place (replace() sees it empty).
    if (this.replacing.has(h.slot)) return
    const delay = this.backoffs[h.slot]!.next(performance.now() - h.startedAt)
    const detail = h.killCause ?? describeExit(exit)
    this.log(`portcullis: worker ${h.id} (pid ${h.pid}) ${detail}; restarting it in ${delay} ms`, 'error')
    this.published(h, h.killCode, detail, delay)
    this.respawnLater(h.slot, delay)
  }

  private respawnLater(slot: number, delay: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.closing && this.slots[slot] === undefined) this.slots[slot] = this.fork(slot)
    }, delay)
    this.timers.add(timer)
  }

  /**
   * replace starts a new worker for `slot` and, once it listens, retires the
   * old one (it stops accepting and drains). Resolves false, leaving the old
   * one serving, when the new one fails to start.
   */
  private async replace(slot: number, cause: RestartCause, detail: string): Promise<boolean> {
    const old = this.slots[slot]
    if (old === undefined || this.replacing.has(slot) || this.closing) return false
    this.replacing.add(slot)
    this.log(
      `portcullis: replacing worker ${old.id} (pid ${old.pid}): ${detail}`,
      cause === 'ROLLING_RESTART' ? 'info' : 'warn',
    )
    const fresh = this.fork(slot)
    const ok = await fresh.ready
    this.replacing.delete(slot)
    if (!ok || this.closing) {
      fresh.kill('replacement failed to start')
      this.log(
        `portcullis: worker ${old.id} not replaced: ${fresh.failure ?? fresh.killCause ?? 'the new worker exited'}`,
        'error',
      )
      if (this.slots[slot] === undefined) this.respawnLater(slot, this.backoffs[slot]!.next(0))
      return false
    }
    this.slots[slot] = fresh
    if (old.state !== 'exited') old.retire(this.config.timeouts.drain, RETIRE_IDLE_GRACE_MS)
    this.log(
      `portcullis: worker ${fresh.id} (pid ${fresh.pid}) replaced worker ${old.id} (pid ${old.pid}), which drains`,
    )
    this.published(old, cause, detail, 0)
    return true
  }

  private published(h: WorkerHandle, cause: RestartCause, detail: string, delay: number): void {
    if (workerRestartChannel.hasSubscribers) {
      workerRestartChannel.publish({ worker: h.id, pid: h.pid, cause, detail, delay })
    }
  }
}

function describeExit(exit: WorkerExit): string {
  return exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
}
