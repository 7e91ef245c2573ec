/**
 * The balancer capability: pick one target for a request. Implementations
 * live beside this file and all pass the shared conformance test in
 * balancer.test.ts; create.ts builds the one an upstream's config names.
 *
 * Balancers receive `Upstream.available`, an array replaced (never mutated)
 * when the set of targets changes, so what a balancer derives from the set
 * (a hash ring) is cached by the array's identity. A pick allocates nothing.
 */
import type { Session } from '../../core/session.ts'

/** What a balancer needs to know of a target: its weight and its tries in flight. */
export interface Weighted {
  /** The relative share of traffic; slow start may lower it for a while (target.ts). */
  readonly weight: number
  /** Tries started on the target and not yet ended (least-request, peak-EWMA, bounded load). */
  readonly inflight: number
}

export interface Balancer<T extends Weighted> {
  /** pick returns the target for `session`, or undefined when `targets` is empty. */
  pick(targets: readonly T[], session: Session | undefined): T | undefined
  /**
   * observe, when a balancer has it, is told of every try that ended on a
   * target (`status` 0: no response head; `ms`: its duration). Latency-aware
   * balancers learn from it; the upstream registers it as a try observer.
   */
  observe?(target: T, status: number, ms: number): void
}

/**
 * weightedIndex returns the index of `targets` whose cumulative weight
 * covers `r` (in [0, total)): a weighted draw with no table to keep in step
 * with weights that change (slow start, the admin API). O(n) per draw.
 */
export function weightedIndex(targets: readonly Weighted[], total: number, r: number): number {
  let x = r * total
  const last = targets.length - 1
  for (let i = 0; i < last; i++) {
    x -= targets[i]!.weight
    if (x < 0) return i
  }
  return last
}

/** totalWeight sums the weights; allEqual tells whether a plain uniform draw will do. */
export function totalWeight(targets: readonly Weighted[]): number {
  let total = 0
  for (let i = 0; i < targets.length; i++) total += targets[i]!.weight
  return total
}

/** allEqual tells whether every target has the first one's weight (a uniform draw or rotation will do). */
export function allEqual(targets: readonly Weighted[]): boolean {
  const w = targets[0]!.weight
  for (let i = 1; i < targets.length; i++) if (targets[i]!.weight !== w) return false
  return true
}

/**
 * drawIndex draws an index by weight (`total` is the sum of weights; `equal`
 * says they are all the same, and then a uniform draw will do).
 */
export function drawIndex(targets: readonly Weighted[], equal: boolean, total: number): number {
  return equal ? Math.floor(Math.random() * targets.length) : weightedIndex(targets, total, Math.random())
}

/** drawOther draws an index other than `first` by weight: the second of the power of two choices. */
export function drawOther(
  targets: readonly Weighted[],
  equal: boolean,
  total: number,
  first: number,
): number {
  if (equal) {
    const j = Math.floor(Math.random() * (targets.length - 1))
    return j >= first ? j + 1 : j
  }
  let x = Math.random() * (total - targets[first]!.weight)
  let last = first === 0 ? 1 : 0
  for (let k = 0; k < targets.length; k++) {
    if (k === first) continue
    last = k
    x -= targets[k]!.weight
    if (x < 0) return k
  }
  return last
}
