/**
 * What the supervisor's admin listener asks a worker over IPC, and how the
 * worker answers: each worker's gateway has an AdminAttachment in `worker`
 * mode (local.ts) that reads its own state and applies actions.
 */
import type { TargetAction, UpstreamState } from '../../observe/admin/instance.ts'
import type { MetricsSnapshot } from '../../observe/metrics/snapshot.ts'

export type AdminAsk =
  { op: 'state' } | { op: 'metrics' } | { op: 'act'; action: TargetAction } | { op: 'topic'; name: string }

/** A worker's state: its upstreams and open client connections. */
export interface WorkerServingState {
  upstreams: UpstreamState[]
  connections: number
}

/** What each ask returns. */
export interface AdminAnswers {
  state: WorkerServingState
  metrics: MetricsSnapshot | undefined
  /** The target's URL. */
  act: string
  topic: unknown
}

/** A failed ask: an AdminError's parts, rebuilt on the supervisor's side. */
export interface AdminFailure {
  status: number
  code: string
  message: string
}
