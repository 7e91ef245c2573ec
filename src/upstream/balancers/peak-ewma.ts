/**
 * Peak-EWMA, the latency-aware balancer of Finagle and Linkerd: each target
 * keeps a moving average of its try durations that jumps to a new peak at
 * once and decays toward lower values with time (half of the old value left
 * after `decay` × ln 2). A pick draws two targets by weight (power of two
 * choices) and takes the lower cost, `ewma × (inflight + 1) / weight`, so a
 * target that slows down loses traffic within a few tries, and one that
 * recovers wins it back as its average decays.
 *
 * The average decays with time, not only with new samples: a target that
 * lost all its traffic because it was slow once is tried again once its
 * average has decayed toward zero (the average is read as if a 0 ms try had
 * just ended, as Finagle's PeakEwma does).
 */
import { performance } from 'node:perf_hooks'
import { allEqual, type Balancer, drawIndex, drawOther, totalWeight, type Weighted } from './balancer.ts'

/** The cost of a target not yet measured but already busy: large, so a fresh target is not flooded. */
const UNMEASURED_BUSY = 1e6
/** What a failed try (no response head, or a 5xx) counts as, at least: failing fast must not attract traffic. */
const FAILURE_MS = 1000

interface Ewma {
  /** The moving average, ms. */
  cost: number
  /** performance.now() of the last update. */
  at: number
}

export class PeakEwma<T extends Weighted> implements Balancer<T> {
  /** The decay time constant (tau), ms. */
  private readonly tau: number
  /** Per-target averages; weak, so targets a DNS change removed are forgotten. */
  private readonly state = new WeakMap<T, Ewma>()
  private readonly now: () => number

  /** `decay`: the time constant, ms (Linkerd's default is 10 s). `now` is injectable for tests. */
  constructor(decay: number, now: () => number = performance.now.bind(performance)) {
    this.tau = decay
    this.now = now
  }

  pick(targets: readonly T[]): T | undefined {
    const n = targets.length
    if (n < 2) return targets[0]
    const equal = allEqual(targets)
    const total = equal ? 0 : totalWeight(targets)
    const i = drawIndex(targets, equal, total)
    const j = drawOther(targets, equal, total, i)
    const now = this.now()
    const a = targets[i]!
    const b = targets[j]!
    return this.cost(b, now) < this.cost(a, now) ? b : a
  }

  /** observe feeds a try's duration into the target's average (failures count as at least FAILURE_MS). */
  observe(target: T, status: number, ms: number): void {
    const rtt = status === 0 || status >= 500 ? Math.max(ms, FAILURE_MS) : ms
    const now = this.now()
    const s = this.state.get(target)
    if (s === undefined) {
      this.state.set(target, { cost: rtt, at: now })
      return
    }
    this.update(s, rtt, now)
  }

  /** latency is the target's current average in ms (0 when unmeasured), for stats. */
  latency(target: T): number {
    const s = this.state.get(target)
    if (s === undefined) return 0
    this.update(s, 0, this.now())
    return s.cost
  }

  private cost(t: T, now: number): number {
    const s = this.state.get(t)
    if (s === undefined) return t.inflight === 0 ? 0 : UNMEASURED_BUSY + t.inflight
    this.update(s, 0, now)
    return (s.cost * (t.inflight + 1)) / t.weight
  }

  /** update moves the average: a new peak replaces it, anything lower blends in with time-based decay. */
  private update(s: Ewma, rtt: number, now: number): void {
    const elapsed = Math.max(now - s.at, 0)
    s.at = now
    if (rtt > s.cost) {
      s.cost = rtt
      return
    }
    const w = Math.exp(-elapsed / this.tau)
    s.cost = s.cost * w + rtt * (1 - w)
  }
}
