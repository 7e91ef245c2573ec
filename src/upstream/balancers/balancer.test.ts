/**
 * The shared conformance test every Balancer implementation passes.
 * Add a new balancer to `implementations` and it is held to the same rules.
 * `spread` is how far from its weighted share a target may land over many
 * picks: exact for round-robin, a few standard deviations for random draws,
 * wider for a hash ring, whose arcs are only as even as its points.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Balancer, Weighted } from './balancer.ts'
import { ConsistentHash } from './consistent-hash.ts'
import { compileHashKey } from './hash-key.ts'
import { LeastRequest } from './least-request.ts'
import { PeakEwma } from './peak-ewma.ts'
import { RandomBalancer } from './random.ts'
import { RoundRobin } from './round-robin.ts'

interface T extends Weighted {
  readonly id: string
  weight: number
  inflight: number
}

const implementations: [string, () => Balancer<T>, number][] = [
  ['round-robin', () => new RoundRobin<T>(), 0.02],
  ['random', () => new RandomBalancer<T>(), 0.1],
  ['least-request', () => new LeastRequest<T>(), 0.1],
  ['peak-ewma', () => new PeakEwma<T>(10_000), 0.1],
  [
    'consistent-hash',
    () => new ConsistentHash<T>({ key: compileHashKey('header:x-user'), idOf: (t) => t.id }),
    0.15,
  ],
]

function target(id: string, weight = 1): T {
  return { id, weight, inflight: 0 }
}

function counts(b: Balancer<T>, targets: readonly T[], n: number): Map<string, number> {
  const seen = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const t = b.pick(targets, undefined)!
    seen.set(t.id, (seen.get(t.id) ?? 0) + 1)
  }
  return seen
}

/** near asserts `got` is within `spread` (a share of `expected`) of it. */
function near(got: number | undefined, expected: number, spread: number, what: string): void {
  assert.ok(Math.abs((got ?? 0) - expected) <= expected * spread, `${what}: ${got}, expected ${expected}`)
}

for (const [name, make, spread] of implementations) {
  describe(`Balancer conformance: ${name}`, () => {
    it('returns undefined for no targets and the only target for one', () => {
      const b = make()
      assert.equal(b.pick([], undefined), undefined)
      const only = target('a')
      for (let i = 0; i < 10; i++) assert.equal(b.pick([only], undefined), only)
      only.inflight = 5
      assert.equal(b.pick([only], undefined), only)
    })

    it('only ever returns one of the given targets', () => {
      const b = make()
      const targets = [1, 2, 3].map((i) => target(`t${i}`, i))
      for (let i = 0; i < 100; i++) assert.ok(targets.includes(b.pick(targets, undefined)!))
    })

    it('spreads equal weights evenly', () => {
      const targets = ['a', 'b', 'c'].map((id) => target(id))
      const seen = counts(make(), targets, 6000)
      for (const id of ['a', 'b', 'c']) near(seen.get(id), 2000, spread, id)
    })

    it('follows weights', () => {
      const targets = [target('heavy', 3), target('light', 1)]
      const seen = counts(make(), targets, 8000)
      near(seen.get('heavy'), 6000, spread, 'heavy')
      near(seen.get('light'), 2000, spread * 2, 'light')
    })

    it('follows uneven weights over many targets (1, 2, 3, 4)', () => {
      const targets = [1, 2, 3, 4].map((w) => target(`w${w}`, w))
      const seen = counts(make(), targets, 10_000)
      for (const w of [1, 2, 3, 4]) near(seen.get(`w${w}`), 1000 * w, spread * 1.5, `w${w}`)
    })

    it('follows the set as targets are added and removed', () => {
      const b = make()
      const a = target('a')
      const c = target('c')
      const d = target('d')
      let set: readonly T[] = [a, c]
      counts(b, set, 100)
      set = [a, c, d] // added: a new array, as Upstream.available is replaced
      const added = counts(b, set, 3000)
      near(added.get('d'), 1000, spread * 1.5, 'added d')
      set = [a, d] // c removed
      const removed = counts(b, set, 2000)
      assert.equal(removed.get('c'), undefined)
      near(removed.get('a'), 1000, spread * 1.5, 'a after removal')
      set = [d]
      assert.deepEqual([...counts(b, set, 10).keys()], ['d'])
      assert.equal(b.pick([], undefined), undefined)
    })
  })
}

describe('RoundRobin specifics', () => {
  it('interleaves weights smoothly as nginx does (5,1,1 → a a b a c a a)', () => {
    const b: Balancer<T> = new RoundRobin<T>()
    const targets = [target('a', 5), target('b'), target('c')]
    const order = Array.from({ length: 7 }, () => b.pick(targets, undefined)!.id).join(' ')
    assert.equal(order, 'a a b a c a a')
  })

  it('rotates strictly with equal weights', () => {
    const b: Balancer<T> = new RoundRobin<T>()
    const targets = ['a', 'b', 'c'].map((id) => target(id))
    const order = Array.from({ length: 6 }, () => b.pick(targets, undefined)!.id).join('')
    assert.equal(order, 'abcabc')
  })
})
