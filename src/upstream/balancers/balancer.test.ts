/**
 * The shared conformance test every Balancer implementation passes.
 * Add a new balancer to `implementations` and it is held to the same rules.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Balancer, Weighted } from './balancer.ts'
import { RoundRobin } from './round-robin.ts'

interface T extends Weighted {
  readonly id: string
}

const implementations: [string, () => Balancer<T>][] = [['round-robin', () => new RoundRobin<T>()]]

function counts(b: Balancer<T>, targets: T[], n: number): Map<string, number> {
  const seen = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const t = b.pick(targets, undefined)!
    seen.set(t.id, (seen.get(t.id) ?? 0) + 1)
  }
  return seen
}

for (const [name, make] of implementations) {
  describe(`Balancer conformance: ${name}`, () => {
    it('returns undefined for no targets and the only target for one', () => {
      const b = make()
      assert.equal(b.pick([], undefined), undefined)
      const only = { id: 'a', weight: 1 }
      assert.equal(b.pick([only], undefined), only)
    })

    it('only ever returns one of the given targets', () => {
      const b = make()
      const targets = [1, 2, 3].map((i) => ({ id: `t${i}`, weight: i }))
      for (let i = 0; i < 100; i++) assert.ok(targets.includes(b.pick(targets, undefined)!))
    })

    it('spreads equal weights evenly', () => {
      const targets = ['a', 'b', 'c'].map((id) => ({ id, weight: 1 }))
      const seen = counts(make(), targets, 3000)
      for (const id of ['a', 'b', 'c'])
        assert.ok(Math.abs(seen.get(id)! - 1000) <= 100, `${id}: ${seen.get(id)}`)
    })

    it('follows weights', () => {
      const targets = [
        { id: 'heavy', weight: 3 },
        { id: 'light', weight: 1 },
      ]
      const seen = counts(make(), targets, 4000)
      assert.ok(Math.abs(seen.get('heavy')! - 3000) <= 200, `heavy: ${seen.get('heavy')}`)
    })
  })
}

describe('RoundRobin specifics', () => {
  it('interleaves weights smoothly as nginx does (5,1,1 → a a b a c a a)', () => {
    const b: Balancer<T> = new RoundRobin<T>()
    const targets = [
      { id: 'a', weight: 5 },
      { id: 'b', weight: 1 },
      { id: 'c', weight: 1 },
    ]
    const order = Array.from({ length: 7 }, () => b.pick(targets, undefined)!.id).join(' ')
    assert.equal(order, 'a a b a c a a')
  })

  it('rotates strictly with equal weights', () => {
    const b: Balancer<T> = new RoundRobin<T>()
    const targets = ['a', 'b', 'c'].map((id) => ({ id, weight: 1 }))
    const order = Array.from({ length: 6 }, () => b.pick(targets, undefined)!.id).join('')
    assert.equal(order, 'abcabc')
  })
})
