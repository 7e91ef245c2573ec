/**
 * What the supervisor and a worker process say to each other over the
 * cluster IPC channel (structured clone: `serialization: 'advanced'`, so a
 * validated configuration travels as it is). Every message has a `t`; the
 * shared store's messages on the same channel carry `ps: 1` instead and are
 * left to it.
 */
import type { GatewayConfig } from '../../config/schema.ts'
import type { BoundAddress } from '../gateway.ts'
import type { TargetAction } from '../../observe/admin/instance.ts'
import type { AdminAsk, AdminFailure } from '../admin/ask.ts'

/** One worker's health, sampled every `supervisor.sampleInterval`. */
export interface WorkerSample {
  /** V8 heap in use, bytes. */
  heapUsed: number
  /** Resident set of the worker process, bytes. */
  rss: number
  /** Event-loop delay over the last interval (perf_hooks.monitorEventLoopDelay), ms. */
  loopDelay: { mean: number; p50: number; p99: number; max: number }
}

/** Supervisor → worker. */
export type ToWorker =
  /** Build the gateway and listen; `hooks` is a module whose default export is GatewayHooks (or a list). */
  | {
      t: 'start'
      config: GatewayConfig
      hooks?: string
      sampleInterval: number
      /** The admin API's target actions so far (drains, weights), applied before listening. */
      overrides?: TargetAction[]
    }
  /** Heartbeat: answered with `pong` from the worker's event loop. */
  | { t: 'ping'; seq: number }
  /** Swap in a configuration the supervisor already validated. */
  | { t: 'reload'; seq: number; config: GatewayConfig }
  /**
   * Stop accepting, drain in-flight requests (up to `drainTimeout` ms), then
   * exit 0. Idle keep-alive connections are closed after `idleGrace` ms
   * (CloseOptions.idleGrace): 0 on shutdown, a moment when retired under load.
   */
  | { t: 'stop'; drainTimeout: number; idleGrace: number }
  /** An admin API question (src/server/admin/ask.ts), answered by an `admin` message with the same seq. */
  | { t: 'admin'; seq: number; ask: AdminAsk }
  /** Reopen log files (the supervisor got SIGUSR1: logrotate moved them). */
  | { t: 'reopen' }

/** Worker → supervisor. */
export type FromWorker =
  /** The worker is listening for messages: the supervisor sends `start` (earlier ones would be lost). */
  | { t: 'hello' }
  | { t: 'listening'; addresses: BoundAddress[] }
  /** The gateway could not be built or could not listen; the worker exits after sending it. */
  | { t: 'failed'; message: string }
  | { t: 'pong'; seq: number }
  | { t: 'sample'; sample: WorkerSample }
  /** A reload applied (`error` absent) or failed in this worker. */
  | { t: 'reloaded'; seq: number; error?: string }
  /** The answer to an admin ask. */
  | ({ t: 'admin'; seq: number } & ({ ok: true; value: unknown } | ({ ok: false } & AdminFailure)))

/** isFromWorker tells the supervisor's messages from the store's (which carry `ps`). */
export function isFromWorker(m: unknown): m is FromWorker {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string'
}

/** isToWorker is the same test on the worker's side. */
export function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string'
}
