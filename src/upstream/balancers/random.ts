/**
 * Weighted random: each pick draws a target with probability weight / total.
 * No state, so many gateway instances (or workers) picking independently do
 * not fall in step the way round-robins started together do.
 */
import { allEqual, type Balancer, totalWeight, type Weighted, weightedIndex } from './balancer.ts'

export class RandomBalancer<T extends Weighted> implements Balancer<T> {
  pick(targets: readonly T[]): T | undefined {
    const n = targets.length
    if (n < 2) return targets[0]
    if (allEqual(targets)) return targets[Math.floor(Math.random() * n)]
    return targets[weightedIndex(targets, totalWeight(targets), Math.random())]
  }
}
