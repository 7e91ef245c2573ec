/**
 * Peak-EWMA, the latency-aware balancer of Finagle and Linkerd: each target
 * keeps a moving average of its try durations that jumps to a new peak at
 * once and decays toward lower values with time (half of the old value left
 * after `decay` × ln 2). With equal weights a pick draws two targets (the
 * power of two choices) and takes the lower cost, `ewma × (inflight + 1)`,
 * so a target that slows down loses traffic within a few tries, and one
 * that recovers wins it back as its average decays. With unequal weights
 * see pickWeighted.
 *
 * The average decays with time, not only with new samples: a target that
 * lost all its traffic because it was slow once is tried again once its
 * average has decayed toward zero (the average is read as if a 0 ms try had
 * just ended, as Finagle's PeakEwma does).
 */
import { performance } from 'node:perf_hooks'
import { allEqual, type Balancer, drawIndex, drawOther, type Weighted } from './balancer.ts'

/** The cost of a target not yet measured but already busy: large, so a fresh target is not flooded. */
const UNMEASURED_BUSY = 1e6
/** The least average a measured target has (ms): a fully decayed one still compares by tries in flight. */
const MIN_COST = 1e-3
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
    const now = this.now()
    if (!allEqual(targets)) return this.pickWeighted(targets, now)
    const i = drawIndex(targets, true, 0)
    const j = drawOther(targets, true, 0, i)
    const a = targets[i]!
    const b = targets[j]!
    return this.cost(b, now) < this.cost(a, now) ? b : a
  }

  /**
   * pickWeighted, for unequal weights, draws over all targets with
   * probability proportional to weight / cost (Envoy's weighted
   * least-request does the same with weight / (active + 1)): the power of
   * two choices would let the heavier target win every near-tie, so that
   * weights 3:1 under light load gave 96:4 rather than 75:25.
   */
  private pickWeighted(targets: readonly T[], now: number): T {
    let total = 0
    let unmeasured = 0
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!
      const c = this.cost(t, now)
      if (c === 0) unmeasured += t.weight
      else total += t.weight / c
    }
    // Idle targets never measured go first, by weight: one try each measures them.
    let x = Math.random() * (unmeasured > 0 ? unmeasured : total)
    for (let i = 0; i < targets.length - 1; i++) {
      const t = targets[i]!
      const c = this.cost(t, now)
      if (unmeasured > 0) {
        if (c === 0) x -= t.weight
      } else x -= t.weight / c
      if (x < 0) return t
    }
    return targets[targets.length - 1]!
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

  /** cost is the target's expected wait: its average × (tries in flight + 1); 0 for an idle unmeasured one. */
  private cost(t: T, now: number): number {
    const s = this.state.get(t)
    if (s === undefined) return t.inflight === 0 ? 0 : UNMEASURED_BUSY + t.inflight
    this.update(s, 0, now)
    return Math.max(s.cost, MIN_COST) * (t.inflight + 1)
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
