/**
 * Smooth weighted round-robin, the algorithm of nginx's upstream module:
 * each pick adds every target's weight to its running score, takes the
 * highest and subtracts the total from it. Weights 5,1,1 give
 * a a b a c a a rather than a a a a a b c. Equal weights take a
 * plain rotation, which costs one increment.
 */
import type { Balancer, Weighted } from './balancer.ts'

export class RoundRobin<T extends Weighted> implements Balancer<T> {
  private next = 0
  private scores: number[] = []

  pick(targets: readonly T[]): T | undefined {
    const n = targets.length
    if (n === 0) return undefined
    if (n === 1) return targets[0]
    if (allEqual(targets)) {
      if (this.next >= n) this.next = 0
      return targets[this.next++]
    }
    return this.pickWeighted(targets)
  }

  private pickWeighted(targets: readonly T[]): T {
    if (this.scores.length !== targets.length) this.scores = new Array(targets.length).fill(0)
    let total = 0
    let best = 0
    for (let i = 0; i < targets.length; i++) {
      const w = targets[i]!.weight
      total += w
      this.scores[i]! += w
      if (this.scores[i]! > this.scores[best]!) best = i
    }
    this.scores[best]! -= total
    return targets[best]!
  }
}

function allEqual(targets: readonly Weighted[]): boolean {
  const w = targets[0]!.weight
  for (let i = 1; i < targets.length; i++) if (targets[i]!.weight !== w) return false
  return true
}
