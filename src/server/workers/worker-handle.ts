/**
 * WorkerHandle is the supervisor's side of one worker process: its state,
 * the heartbeat it owes, its last health sample and how long it has been
 * over a memory limit, and the promises a restart waits on.
 */
import type { Worker } from 'node:cluster'
import type { SupervisorConfig } from '../../config/workers-schema.ts'
import type { BoundAddress } from '../gateway.ts'
import type { RestartCause } from './channels.ts'
import type { FromWorker, ToWorker, WorkerSample } from './messages.ts'

/** starting → listening → stopping → exited; `exited` may come from any state. */
export type WorkerState = 'starting' | 'listening' | 'stopping' | 'exited'

/** How a worker ended: its exit code or signal, and the cause the supervisor gave when it killed it. */
export interface WorkerExit {
  code: number | null
  signal: string | null
}

export class WorkerHandle {
  readonly worker: Worker
  /** Which of the N places this worker fills. */
  readonly slot: number
  readonly startedAt = performance.now()
  state: WorkerState = 'starting'
  addresses: BoundAddress[] = []
  /** Why the supervisor killed it, when it did (heartbeat, start timeout). */
  killCause: string | undefined
  killCode: RestartCause = 'WORKER_EXITED'
  /** Set when the supervisor asked it to go (replaced, stopping): its exit is not a crash. */
  retired = false
  sample: WorkerSample | undefined
  /** When the sample first went over a memory limit (ms, performance.now()); undefined when under. */
  overSince: number | undefined
  private lastPong = performance.now()
  private seq = 0
  /** Resolves true once listening, false when it failed or exited first. */
  readonly ready: Promise<boolean>
  /** Resolves once the process exited. */
  readonly exited: Promise<WorkerExit>
  private settleReady!: (ok: boolean) => void
  /** Why it failed to start, when it said so. */
  failure: string | undefined

  constructor(worker: Worker, slot: number) {
    this.worker = worker
    this.slot = slot
    this.ready = new Promise((resolve) => (this.settleReady = resolve))
    this.exited = new Promise((resolve) =>
      worker.once('exit', (code, signal) => {
        this.state = 'exited'
        this.settleReady(false)
        resolve({ code, signal })
      }),
    )
  }

  get pid(): number {
    return this.worker.process.pid ?? 0
  }

  get id(): number {
    return this.worker.id
  }

  /** send posts a message; a worker whose channel closed is on its way out, so failures are dropped. */
  send(message: ToWorker): void {
    if (this.state === 'exited' || !this.worker.isConnected()) return
    this.worker.send(message, undefined, () => {})
  }

  /** onMessage updates the state from a worker's message; the supervisor acts on what it returns. */
  onMessage(m: FromWorker): void {
    switch (m.t) {
      case 'listening':
        this.state = 'listening'
        this.addresses = m.addresses
        this.lastPong = performance.now()
        this.settleReady(true)
        return
      case 'failed':
        this.failure = m.message
        this.settleReady(false)
        return
      case 'pong':
        if (m.seq === this.seq) this.lastPong = performance.now()
        return
      case 'sample':
        this.sample = m.sample
    }
  }

  /** heartbeat sends the next ping, or returns how long it has been silent once that passes `timeout`. */
  heartbeat(timeout: number): number | undefined {
    if (this.state !== 'listening' && this.state !== 'stopping') return undefined
    const silent = performance.now() - this.lastPong
    if (silent > timeout) return silent
    this.send({ t: 'ping', seq: ++this.seq })
    return undefined
  }

  /**
   * overMemory tells whether the latest sample has stayed above a limit of
   * `limits` for its whole `for`, and says which, for the log line.
   */
  overMemory(limits: SupervisorConfig['maxMemory']): string | undefined {
    const s = this.sample
    if (s === undefined || this.state !== 'listening') return undefined
    const heap = limits.heap > 0 && s.heapUsed > limits.heap
    const rss = limits.rss > 0 && s.rss > limits.rss
    if (!heap && !rss) {
      this.overSince = undefined
      return undefined
    }
    const now = performance.now()
    this.overSince ??= now
    if (now - this.overSince < limits.for) return undefined
    const which = heap
      ? `heap ${mb(s.heapUsed)} above maxMemory.heap ${mb(limits.heap)}`
      : `rss ${mb(s.rss)} above maxMemory.rss ${mb(limits.rss)}`
    return `${which} for ${Math.round(now - this.overSince)} ms`
  }

  /**
   * retire asks it to stop accepting and drain, closing idle connections
   * after `idleGrace`; it is killed if still there after `drainTimeout` plus
   * a margin.
   */
  retire(drainTimeout: number, idleGrace: number): void {
    if (this.retired) return
    this.retired = true
    if (this.state === 'exited') return
    this.state = 'stopping'
    this.send({ t: 'stop', drainTimeout, idleGrace })
    const timer = setTimeout(
      () => this.kill('did not exit after the drain timeout'),
      drainTimeout + KILL_MARGIN_MS,
    )
    timer.unref()
    void this.exited.then(() => clearTimeout(timer))
  }

  /** kill ends it at once (SIGKILL: a stuck event loop handles nothing else), recording why. */
  kill(cause: string, code: RestartCause = 'WORKER_EXITED'): void {
    if (this.state === 'exited') return
    if (this.killCause === undefined) {
      this.killCause = cause
      this.killCode = code
    }
    this.worker.process.kill('SIGKILL')
  }
}

/** A draining worker gets this long past its drain timeout to exit by itself (closing, flushing logs). */
const KILL_MARGIN_MS = 3000

function mb(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MB`
}
