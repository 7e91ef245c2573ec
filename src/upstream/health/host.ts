/**
 * What the two kinds of checks (active.ts, passive.ts) share about their
 * upstream: where to publish what they decided, and how a state change is
 * made visible. Implemented by UpstreamHealth (upstream-health.ts).
 */
import type { Store } from '../../store/store.ts'
import type { Target, Upstream } from '../upstream.ts'

/** A state change, as `portcullis:upstream:health` carries it (without the gateway). */
export interface HealthEvent {
  upstream: string
  /** The target's origin, `scheme://host:port`. */
  target: string
  event: 'down' | 'up' | 'ejected' | 'returned' | 'panic' | 'calm'
  healthy: boolean
  ejectedUntil: number
  ejections: number
  consecutiveFailures: number
  panic: boolean
  reason: string
}

/** Receives every health state change of the upstreams it was given. */
export type HealthListener = (event: HealthEvent) => void

/** A probe verdict shared by the worker that probed (all fields short: one message per target per interval). */
export interface VerdictMessage {
  k: 'a'
  /** The target (targetKey). */
  t: string
  /** Healthy after this probe. */
  h: boolean
  /** Successes and failures in a row. */
  s: number
  f: number
  /** The probe's reason. */
  r: string
}

/** An ejection decided by one worker, applied by all. */
export interface EjectionMessage {
  k: 'e'
  /** The target (targetKey). */
  t: string
  /** Ejected until (Date.now() ms). */
  u: number
  /** Ejections in a row. */
  n: number
  r: string
}

export type HealthMessage = VerdictMessage | EjectionMessage

export interface HealthHost {
  readonly upstream: Upstream
  readonly store: Store
  /** Prefix of this upstream's keys in the store (its name and a fingerprint of its targets and checks). */
  readonly key: string
  /** publish shares a decision with every worker (itself included); failures are ignored. */
  publish(message: HealthMessage): void
  /** changed recomputes the upstream's available targets and reports the change (and any panic change). */
  changed(target: Target, event: HealthEvent['event'], reason: string): void
}

/**
 * targetKey names a target the same way in every worker: its URL, and the
 * address it connects to when its host name was resolved into several.
 */
export function targetKey(t: Target): string {
  return t.address === undefined ? t.url : `${t.url}@${t.address}`
}

/** findTarget is the upstream's current target named `key`, if it still has one. */
export function findTarget(upstream: Upstream, key: string): Target | undefined {
  for (const t of upstream.targets) if (targetKey(t) === key) return t
  return undefined
}
