/**
 * What least-request and peak-EWMA do beyond the conformance test: a target
 * with tries piling up, or answering slowly, gets a small share; peak-EWMA
 * forgets a slow spell with time (an injected clock, no sleeping).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Balancer, Weighted } from './balancer.ts'
import { LeastRequest } from './least-request.ts'
import { PeakEwma } from './peak-ewma.ts'

interface T extends Weighted {
  readonly id: string
  weight: number
  inflight: number
}

function targets(): T[] {
  return ['a', 'b', 'c'].map((id) => ({ id, weight: 1, inflight: 0 }))
}

function share(b: Balancer<T>, set: T[], id: string, n = 3000): number {
  let hits = 0
  for (let i = 0; i < n; i++) if (b.pick(set, undefined)!.id === id) hits++
  return hits / n
}

describe('LeastRequest', () => {
  it('rarely picks a target whose tries pile up', () => {
    const set = targets()
    set[0]!.inflight = 20
    set[1]!.inflight = 2
    set[2]!.inflight = 2
    // a loses every comparison it is drawn into: never picked.
    assert.equal(share(new LeastRequest<T>(), set, 'a'), 0)
  })

  it('compares tries in flight per unit of weight', () => {
    const set = targets()
    set[0]!.weight = 10
    set[0]!.inflight = 10 // 1 per weight unit
    set[1]!.inflight = 2 // 2 per weight unit
    set[2]!.inflight = 2
    assert.ok(share(new LeastRequest<T>(), set, 'a') > 0.8)
  })
})

describe('PeakEwma', () => {
  it('sends most traffic away from a target ten times slower', () => {
    let now = 0
    const b = new PeakEwma<T>(10_000, () => now)
    const set = targets()
    for (let i = 0; i < 5; i++) {
      now += 10
      b.observe(set[0]!, 200, 100)
      b.observe(set[1]!, 200, 10)
      b.observe(set[2]!, 200, 10)
    }
    const slow = share(b, set, 'a')
    assert.ok(slow < 0.05, `slow target's share ${slow}`)
  })

  it('with unequal weights, shares by weight over latency', () => {
    let now = 0
    const b = new PeakEwma<T>(10_000, () => now)
    const set = targets()
    set[0]!.weight = 2 // the heaviest, but ten times slower
    for (const [t, ms] of [
      [set[0]!, 100],
      [set[1]!, 10],
      [set[2]!, 10],
    ] as const)
      b.observe(t, 200, ms)
    // weight / cost: 2/100 against 1/10 and 1/10, so a gets 2/22 ≈ 9%.
    const slow = share(b, set, 'a', 6000)
    assert.ok(slow > 0.05 && slow < 0.13, `slow heavy target's share ${slow}`)
  })

  it('jumps to a peak at once and decays with time toward zero', () => {
    let now = 0
    const b = new PeakEwma<T>(1000, () => now)
    const [a] = targets()
    b.observe(a!, 200, 10)
    b.observe(a!, 200, 500)
    assert.equal(b.latency(a!), 500)
    now += 1000 * Math.LN2 // one half-life
    assert.ok(Math.abs(b.latency(a!) - 250) < 1, `${b.latency(a!)}`)
    now += 20_000
    assert.ok(b.latency(a!) < 1)
  })

  it('tries a once-slow target again once its average decayed', () => {
    let now = 0
    const b = new PeakEwma<T>(1000, () => now)
    const set = targets()
    b.observe(set[0]!, 200, 1000)
    b.observe(set[1]!, 200, 10)
    b.observe(set[2]!, 200, 10)
    assert.ok(share(b, set, 'a') < 0.05)
    now += 10_000
    b.observe(set[1]!, 200, 10)
    b.observe(set[2]!, 200, 10)
    assert.ok(share(b, set, 'a') > 0.1)
  })

  it('counts a failed try as slow, so failing fast does not attract traffic', () => {
    let now = 0
    const b = new PeakEwma<T>(10_000, () => now)
    const set = targets()
    b.observe(set[0]!, 0, 1) // refused in 1 ms
    b.observe(set[1]!, 200, 20)
    b.observe(set[2]!, 200, 20)
    assert.ok(share(b, set, 'a') < 0.05)
    b.observe(set[1]!, 503, 2) // a fast 503 is a peak too
    assert.ok(share(b, set, 'c') > 0.6)
  })
})
