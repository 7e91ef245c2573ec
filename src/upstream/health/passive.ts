/**
 * Passive health checks (outlier detection, as Envoy calls it) of one
 * upstream. Each worker counts the failed tries in a row of each target from
 * the requests it serves (a try observer: no store round trip per request);
 * when a count reaches `consecutiveFailures` the worker ejects the target
 * and publishes the ejection, which every worker applies. The n-th ejection
 * in a row lasts n × baseEjectionTime, capped at maxEjectionTime; the count
 * starts again once the target has gone maxEjectionTime without one. No
 * ejection may leave more than maxEjectionPercent of the targets ejected,
 * except the first (as in Envoy, one target can always be ejected).
 */
import type { PassiveHealthConfig } from '../../config/health-schema.ts'
import type { Target, TryObserver } from '../target.ts'
import { type EjectionMessage, findTarget, type HealthHost, targetKey } from './host.ts'
import { statusTable } from './statuses.ts'

/**
 * Try error codes that are the target's fault: it refused, reset, sent
 * garbage or stayed silent. Not counted: the client leaving, a full local
 * pool, a breaker or limit of ours.
 */
const FAILURE_CODES: ReadonlySet<string> = new Set([
  'UPSTREAM_CONNECT_REFUSED',
  'UPSTREAM_CONNECT_FAILED',
  'UPSTREAM_CONNECT_TIMEOUT',
  'UPSTREAM_RESET',
  'UPSTREAM_INVALID_RESPONSE',
  'UPSTREAM_RESPONSE_TIMEOUT',
  'UPSTREAM_IDLE_TIMEOUT',
  'UPSTREAM_TRY_TIMEOUT',
])

export class PassiveChecks {
  private readonly host: HealthHost
  private readonly config: PassiveHealthConfig
  private readonly failing: Uint8Array
  /** When each target (targetKey) last came back from an ejection (Date.now() ms). */
  private readonly returnedAt = new Map<string, number>()
  private readonly timers = new Map<string, NodeJS.Timeout>()

  constructor(host: HealthHost, config: PassiveHealthConfig) {
    this.host = host
    this.config = config
    this.failing = statusTable(config.statuses)
  }

  /**
   * observe is the try observer: on the request path, so a success costs a
   * table read and a compare.
   */
  readonly observe: TryObserver = (target, status, code) => {
    if (code === undefined) {
      if (this.failing[status] !== 1) {
        if (target.consecutiveFailures !== 0) target.consecutiveFailures = 0
        return
      }
    } else if (!FAILURE_CODES.has(code)) return
    if (++target.consecutiveFailures >= this.config.consecutiveFailures && target.ejectedUntil === 0)
      this.eject(target, code ?? `status ${status}`)
  }

  /** start registers the observer on every target. */
  start(): void {
    for (const t of this.host.upstream.targets) t.tryObservers.push(this.observe)
  }

  private eject(target: Target, last: string): void {
    const targets = this.host.upstream.targets
    let ejected = 0
    for (const t of targets) if (t.ejectedUntil !== 0) ejected++
    const max = this.config.maxEjectionPercent
    if (max === 0 || (ejected > 0 && (ejected + 1) * 100 > max * targets.length)) return
    const t = targetKey(target)
    const now = Date.now()
    const quiet = now - (this.returnedAt.get(t) ?? 0) >= this.config.maxEjectionTime
    const n = (quiet ? 0 : target.ejections) + 1
    const until = now + Math.min(this.config.baseEjectionTime * n, this.config.maxEjectionTime)
    const message: EjectionMessage = {
      k: 'e',
      t,
      u: until,
      n,
      r: `${target.consecutiveFailures} failures in a row (last: ${last})`,
    }
    this.apply(message)
    this.host.publish(message)
  }

  /** apply takes an ejection (this worker's or another's); an older or shorter one than the current is ignored. */
  apply(m: EjectionMessage): void {
    const target = findTarget(this.host.upstream, m.t)
    const now = Date.now()
    if (target === undefined || m.u <= target.ejectedUntil || m.u <= now) return
    target.ejectedUntil = m.u
    target.ejections = m.n
    target.consecutiveFailures = 0
    clearTimeout(this.timers.get(m.t))
    const timer = setTimeout(() => this.returnTarget(target, m.t), m.u - now)
    timer.unref()
    this.timers.set(m.t, timer)
    this.host.changed(target, 'ejected', m.r)
  }

  private returnTarget(target: Target, t: string): void {
    this.timers.delete(t)
    target.ejectedUntil = 0
    this.returnedAt.set(t, Date.now())
    this.host.changed(target, 'returned', 'ejection time over')
  }

  /** targetsChanged registers the observer on targets DNS added and forgets those it removed. */
  targetsChanged(added: readonly Target[], removed: readonly Target[]): void {
    for (const t of added) t.tryObservers.push(this.observe)
    for (const t of removed) {
      const key = targetKey(t)
      clearTimeout(this.timers.get(key))
      this.timers.delete(key)
      this.returnedAt.delete(key)
    }
  }

  /** stop removes the observer and the timers. */
  stop(): void {
    for (const t of this.host.upstream.targets) {
      const at = t.tryObservers.indexOf(this.observe)
      if (at >= 0) t.tryObservers.splice(at, 1)
    }
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
  }
}
