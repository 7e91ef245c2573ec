/**
 * Diagnostics channels of the workers. Metrics subscribe; with no
 * subscriber a publish costs one `hasSubscribers` check.
 */
import diagnostics from 'node:diagnostics_channel'
import type { WorkerSample } from './messages.ts'

/**
 * Published every `supervisor.sampleInterval`: in each worker for its own
 * sample, and in the supervisor for every worker's (so metrics there can
 * aggregate them).
 */
export interface WorkerSampleMessage {
  /** The cluster worker id (unique for the life of the supervisor). */
  worker: number
  pid: number
  sample: WorkerSample
}

export const workerSampleChannel = diagnostics.channel('portcullis:worker:sample')

/** Published by the supervisor each time it restarts or replaces a worker. */
export interface WorkerRestartMessage {
  /** The worker that went (cluster id). */
  worker: number
  pid: number
  /** Why, as a stable code; `detail` says it for humans. */
  cause: RestartCause
  detail: string
  /** Wait before the new worker starts (backoff), ms; 0 for a replacement. */
  delay: number
}

/** Why a worker was restarted or replaced. */
export type RestartCause =
  'WORKER_EXITED' | 'WORKER_HEARTBEAT_TIMEOUT' | 'WORKER_MEMORY_LIMIT' | 'ROLLING_RESTART'

export const workerRestartChannel = diagnostics.channel('portcullis:worker:restart')
