/**
 * An Upstream is a named group of targets (target.ts) with a balancer
 * (balancers/, chosen by `balance:`). Targets named by host name may be
 * re-resolved on a schedule (resolve.ts): `targets` is then replaced, never
 * mutated, as DNS answers change.
 */
import { performance } from 'node:perf_hooks'
import type { UpstreamConfig } from '../config/schema.ts'
import type { Deadlines } from '../core/deadlines.ts'
import type { Session } from '../core/session.ts'
import type { Balancer } from './balancers/balancer.ts'
import { createBalancer } from './balancers/create.ts'
import { PeakEwma } from './balancers/peak-ewma.ts'
import { type HostResolver, isHostName, ResolvedNames, systemResolver } from './resolve.ts'
import { Target } from './target.ts'
import { attachBreakers } from './circuit/attach.ts'
import { ResourceLimits } from './circuit/limits.ts'

export { Target } from './target.ts'

/** Told which targets a DNS change added and removed (after `targets` and `available` were updated). */
export type TargetsListener = (added: readonly Target[], removed: readonly Target[]) => void

export class Upstream {
  readonly name: string
  readonly config: UpstreamConfig
  /**
   * The targets that may take new requests now (not drained; health and
   * breakers add their own exclusions in `refresh`). A new array whenever the
   * set changes, never mutated, so a balancer may cache what it derives from
   * it (a hash ring, a Maglev table) by identity.
   */
  available: readonly Target[]
  /** Panic mode is on: too few healthy targets, so `available` holds all that are not drained (refresh). */
  panic = false
  /** Envoy-style resource limits with overflow counters (src/upstream/circuit/limits.ts). */
  readonly limits: ResourceLimits
  /**
   * Called when re-resolution added or removed targets, so that what keeps
   * per-target state (health checks, breakers) can take the new ones in.
   */
  readonly targetsListeners: TargetsListener[] = []
  /** The host names being re-resolved (`resolve:`), or undefined. */
  readonly resolved: ResolvedNames | undefined
  private current: readonly Target[]
  private readonly balancer: Balancer<Target>
  private readonly deadlines: Deadlines
  /** Slow start's window in ms (0: none). */
  private readonly slowStart: number
  /** Each available target's configured weight when `available` was last set (consistent-hash rebuilds on change). */
  private weightsSeen: number[] = []
  /** The last `without` result (see there). */
  private lastWithout: { from: readonly Target[]; exclude: Target; rest: readonly Target[] } | undefined =
    undefined

  /**
   * `address`: where every target connects, see Target (the forward proxy's
   * per-destination upstreams). `resolver`: how host names are resolved
   * when the config has `resolve:` (tests inject one).
   */
  constructor(
    name: string,
    config: UpstreamConfig,
    deadlines: Deadlines,
    address?: string,
    resolver: HostResolver = systemResolver,
  ) {
    this.name = name
    this.config = config
    this.deadlines = deadlines
    this.current = config.targets.map((t) => new Target(t.url, t.weight, config, deadlines, address))
    this.balancer = createBalancer<Target>(config, targetId)
    this.slowStart = config.balance === 'consistent-hash' ? 0 : (config.slowStart ?? 0)
    for (const t of this.current) this.attach(t)
    this.available = this.current
    this.weightsSeen = this.current.map((t) => t.configuredWeight)
    this.limits = new ResourceLimits(config.limits, name)
    if (config.circuitBreaker !== undefined) attachBreakers(this, config.circuitBreaker)
    const names =
      config.resolve === undefined || address !== undefined
        ? []
        : config.targets.filter((t) => isHostName(t.url)).map((t) => new URL(t.url).hostname)
    this.resolved =
      names.length === 0
        ? undefined
        : new ResolvedNames(names, config.resolve!, resolver, () => this.resolvedChanged())
    this.resolved?.start()
  }

  /** The targets, in configuration order (one per address for re-resolved names); replaced, never mutated. */
  get targets(): readonly Target[] {
    return this.current
  }

  /**
   * refresh recomputes `available` after a target's state changed (drained,
   * health, ejection). Called on changes, never per request.
   */
  refresh(): void {
    const open = this.targets.filter((t) => !t.drained)
    let next = open.filter((t) => t.healthy && t.ejectedUntil === 0 && t.breaker?.takesRequests() !== false)
    // Panic mode (Envoy's healthy panic threshold): with too few healthy
    // targets left, the rest would be overwhelmed; spread over all instead.
    const threshold = this.config.health?.panicThreshold ?? 0
    this.panic = threshold > 0 && next.length * 100 < threshold * open.length
    if (this.panic) next = open
    this.setAvailable(next)
  }

  /**
   * setAvailable replaces `available` when the set (or, for consistent
   * hashing, a configured weight) changed. A target newly in it is stamped
   * `availableSince` and, with `slowStart`, begins its weight ramp.
   */
  private setAvailable(next: readonly Target[]): void {
    const prev = this.available
    const same = next.length === prev.length && next.every((t, i) => t === prev[i])
    if (same && next.every((t, i) => t.configuredWeight === this.weightsSeen[i])) return
    if (!same) {
      const now = performance.now()
      for (const t of next) if (!prev.includes(t)) t.becameAvailable(now, this.slowStart)
    }
    this.available = same ? [...next] : next
    this.weightsSeen = next.map((t) => t.configuredWeight)
  }

  /** attach registers what the balancer learns from a target's tries (peak-EWMA's latency). */
  private attach(target: Target): void {
    const balancer = this.balancer
    if (balancer.observe === undefined) return
    const ewma = balancer instanceof PeakEwma ? balancer : undefined
    target.tryObservers.push(function balancerObserves(t, status, _code, ms) {
      balancer.observe!(t, status, ms)
      if (ewma !== undefined) t.latencyMs = ewma.latency(t) // for the admin API and metrics
    })
  }

  /**
   * resolvedChanged rebuilds `targets` from the latest DNS answers: a target
   * whose URL and address remain is kept (its pool, its state); a removed
   * one's pool closes once its requests in flight end.
   */
  private resolvedChanged(): void {
    const resolved = this.resolved!
    const prev = this.current
    const byId = new Map(prev.map((t) => [targetId(t), t]))
    const next: Target[] = []
    for (const t of this.config.targets) {
      const name = new URL(t.url).hostname
      const addresses = isHostName(t.url) ? resolved.addresses.get(name) : undefined
      if (addresses === undefined) {
        next.push(byId.get(t.url) ?? new Target(t.url, t.weight, this.config, this.deadlines))
        continue
      }
      for (const a of addresses)
        next.push(byId.get(`${t.url}@${a}`) ?? new Target(t.url, t.weight, this.config, this.deadlines, a))
    }
    const added = next.filter((t) => !prev.includes(t))
    const removed = prev.filter((t) => !next.includes(t))
    if (added.length === 0 && removed.length === 0) return
    for (const t of added) this.attach(t)
    this.current = next
    this.refresh()
    for (const listener of this.targetsListeners) listener(added, removed)
    for (const t of removed) t.pool.close()
  }

  /**
   * pick chooses a target for the session with the configured balancer among
   * the available ones; `exclude` (a target that just failed) is avoided
   * when another is available.
   */
  pick(session: Session, exclude?: Target): Target | undefined {
    const available = this.available
    if (exclude === undefined || available.length < 2 || !available.includes(exclude))
      return this.balancer.pick(available, session)
    return this.balancer.pick(this.without(available, exclude), session)
  }

  /**
   * without is `available` less `exclude`, the same array for as long as
   * both stay the same: a retry's balancer then keeps what it derived from
   * it (a hash ring is not rebuilt for every retry).
   */
  private without(available: readonly Target[], exclude: Target): readonly Target[] {
    const w = this.lastWithout
    if (w !== undefined && w.from === available && w.exclude === exclude) return w.rest
    const rest = available.filter((t) => t !== exclude)
    this.lastWithout = { from: available, exclude, rest }
    return rest
  }

  /**
   * unavailableCode is the error for a request `pick` found no target for:
   * NO_HEALTHY_TARGET when the upstream has targets but none may take
   * requests (down, ejected, drained), NO_HEALTHY_UPSTREAM when it has none.
   */
  unavailableCode(): 'NO_HEALTHY_TARGET' | 'NO_HEALTHY_UPSTREAM' {
    return this.targets.length > 0 ? 'NO_HEALTHY_TARGET' : 'NO_HEALTHY_UPSTREAM'
  }

  /** close stops every pool; busy connections close when their exchange ends. */
  close(): void {
    this.resolved?.close()
    for (const t of this.targets) t.pool.close()
  }
}

/** targetId is a target's identity across DNS rounds and ring rebuilds: its URL, and the address it connects to. */
function targetId(t: Target): string {
  return t.address === undefined ? t.url : `${t.url}@${t.address}`
}
