/**
 * Least-request with the power of two choices (Mitzenmacher, "The Power of
 * Two Choices in Randomized Load Balancing", 2001): draw two distinct
 * targets, each with probability proportional to its weight, and take the
 * one with fewer tries in flight per unit of weight; on a tie the first draw
 * wins. Idle targets therefore share traffic by weight, and under load a
 * slow target, whose tries pile up, loses most comparisons. Two draws avoid
 * the herd a full scan for the minimum causes when many pickers see the
 * same stale counts (Envoy's LEAST_REQUEST default, choice_count 2).
 */
import { allEqual, type Balancer, drawIndex, drawOther, totalWeight, type Weighted } from './balancer.ts'

export class LeastRequest<T extends Weighted> implements Balancer<T> {
  pick(targets: readonly T[]): T | undefined {
    const n = targets.length
    if (n < 2) return targets[0]
    const equal = allEqual(targets)
    const total = equal ? 0 : totalWeight(targets)
    const i = drawIndex(targets, equal, total)
    const j = drawOther(targets, equal, total, i)
    const a = targets[i]!
    const b = targets[j]!
    return b.inflight * a.weight < a.inflight * b.weight ? b : a
  }
}
