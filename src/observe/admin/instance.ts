/**
 * AdminInstance is what the admin listener asks of the instance it serves:
 * one gateway process (src/server/admin/local.ts), or a supervisor that
 * asks its workers over IPC and merges their answers
 * (src/server/admin/supervised.ts). The listener and its routes depend on
 * this interface only, so observe/ never imports server/.
 */
import type { GatewayConfig } from '../../config/schema.ts'
import type { MetricsSnapshot } from '../metrics/snapshot.ts'

/** One target's live state (summed across workers where it is a count). */
export interface TargetState {
  url: string
  origin: string
  weight: number
  /** The weight in the configuration, for comparison with a changed one. */
  configuredWeight: number
  drained: boolean
  /** Tries in flight on this target. */
  inflight: number
  /** Pooled connections: open (busy + idle) and idle. */
  pool: { open: number; idle: number }
  /** Whether the balancer may pick it now (not drained, and healthy / circuit closed when those exist). */
  available: boolean
  /** Other state other features keep on the target (health, circuit), as they publish it. */
  [extra: string]: unknown
}

export interface UpstreamState {
  name: string
  balance: string
  required: boolean
  /** How many targets may take requests now. */
  available: number
  targets: TargetState[]
}

export interface WorkerState {
  id: number
  pid: number
  state: string
  /** The latest health sample, when the worker sent one. */
  heapUsed?: number
  rss?: number
  loopDelayP99?: number
}

/** The live state the API reads; with workers, counts are summed and `workers` lists them. */
export interface InstanceState {
  upstreams: UpstreamState[]
  /** Open client connections. */
  connections: number
  workers: WorkerState[]
  /** Listening addresses. */
  listeners: { host: string; port: number; tls: boolean; forward?: boolean }[]
}

/** A change to one target, applied in every worker and kept across reloads. */
export type TargetAction =
  | { kind: 'drain'; upstream: string; target: string }
  | { kind: 'undrain'; upstream: string; target: string }
  | { kind: 'weight'; upstream: string; target: string; weight: number }

export interface AdminInstance {
  /** The configuration in force (not redacted: the API redacts). */
  config(): GatewayConfig
  state(): Promise<InstanceState>
  /**
   * The effective configuration of one route by name: its own keys, the
   * policies it takes from policy sets, the global settings that apply to
   * it and its upstream; undefined when no route has that name.
   */
  route(name: string): Record<string, unknown> | undefined
  /** Why the instance is not ready, or [] when it is (config loaded, listening, workers up, required upstreams available). */
  notReady(): Promise<string[]>
  /** The metrics of every worker, merged; undefined when `admin.metrics` is off. */
  metrics(): Promise<MetricsSnapshot | undefined>
  /**
   * act applies a target action everywhere; resolves to the target's URL,
   * rejects with an AdminError (404 unknown upstream or target).
   */
  act(action: TargetAction): Promise<string>
  /** reload loads the configuration file again and applies it; rejects with the problems. */
  reload(): Promise<void>
  /**
   * topic asks every serving process for the data an admin extension
   * published under `name` (src/observe/admin/extensions.ts): one entry per
   * process that has it.
   */
  topic(name: string): Promise<unknown[]>
}
