/**
 * Consistent hashing beyond the conformance test: keys read from each
 * source, stickiness, minimal remapping when a target leaves or joins
 * (measured: the share of keys that moved), and the bounded-load option.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RequestHead } from '../../core/request-head.ts'
import { Session } from '../../core/session.ts'
import type { Weighted } from './balancer.ts'
import { ConsistentHash } from './consistent-hash.ts'
import { compileHashKey, type HashKey } from './hash-key.ts'

interface T extends Weighted {
  readonly id: string
  weight: number
  inflight: number
}

function session(target: string, fields: string[] = [], client = '192.0.2.1'): Session {
  const head = new RequestHead()
  head.method = 'GET'
  head.target = target
  head.rawHeaders = fields
  return new Session(head, client, 40000, false, 0)
}

function targets(n: number): T[] {
  return Array.from({ length: n }, (_, i) => ({ id: `http://10.0.0.${i + 1}:8080`, weight: 1, inflight: 0 }))
}

function ring(key = 'header:x-user', boundedLoad?: number): ConsistentHash<T> {
  return new ConsistentHash<T>({ key: compileHashKey(key), idOf: (t) => t.id, boundedLoad })
}

const KEYS = Array.from({ length: 10_000 }, (_, i) => session('/', ['X-User', `user-${i}`]))

function placements(b: ConsistentHash<T>, set: readonly T[]): string[] {
  return KEYS.map((s) => b.pick(set, s)!.id)
}

describe('hash keys', () => {
  const h = (key: string, s: Session) => (compileHashKey(key) as HashKey)(s)

  it('reads a header case-insensitively, and -1 when absent', () => {
    assert.equal(
      h('header:X-User', session('/', ['x-user', 'ann'])),
      h('header:x-user', session('/', ['X-USER', 'ann'])),
    )
    assert.notEqual(
      h('header:x-user', session('/', ['x-user', 'ann'])),
      h('header:x-user', session('/', ['x-user', 'bob'])),
    )
    assert.equal(h('header:x-user', session('/', ['x-other', 'ann'])), -1)
  })

  it('reads a cookie among others, in any Cookie field', () => {
    const ann = h('cookie:sid', session('/', ['Cookie', 'sid=ann']))
    assert.equal(h('cookie:sid', session('/', ['Cookie', 'a=1; sid=ann; b=2'])), ann)
    assert.equal(h('cookie:sid', session('/', ['Cookie', 'a=1', 'cookie', 'sid=ann'])), ann)
    assert.equal(h('cookie:sid', session('/', ['Cookie', 'xsid=ann; sidx=ann'])), -1)
    assert.equal(h('cookie:sid', session('/')), -1)
  })

  it('reads a query parameter, the path without the query, and the client address', () => {
    const q = h('query:u', session('/a?u=ann'))
    assert.equal(h('query:u', session('/b?x=1&u=ann&y=2')), q)
    assert.equal(h('query:u', session('/b?xu=ann')), -1)
    assert.equal(h('query:u', session('/b')), -1)
    assert.equal(h('path', session('/a/b?x=1')), h('path', session('/a/b?y=2')))
    assert.notEqual(h('path', session('/a/b')), h('path', session('/a/c')))
    assert.equal(
      h('client.ip', session('/', [], '::ffff:192.0.2.9')),
      h('client.ip', session('/', [], '192.0.2.9')),
    )
  })
})

describe('ConsistentHash', () => {
  it('sends one key to one target every time', () => {
    const b = ring()
    const set = targets(5)
    const first = placements(b, set)
    assert.deepEqual(placements(b, [...set]), first) // a rebuilt ring places keys the same
    assert.deepEqual(placements(ring(), set), first) // and so does another gateway
  })

  it('moves only the removed target’s keys when one of N leaves', () => {
    for (const n of [3, 5, 10]) {
      const set = targets(n)
      const b = ring()
      const before = placements(b, set)
      const gone = set[n - 1]!
      const after = placements(
        b,
        set.filter((t) => t !== gone),
      )
      let moved = 0
      let movedElsewhere = 0
      for (let i = 0; i < KEYS.length; i++) {
        if (before[i] === after[i]) continue
        moved++
        if (before[i] !== gone.id) movedElsewhere++
      }
      const share = moved / KEYS.length
      console.log(
        `consistent-hash: ${n} targets, one removed: ${(share * 100).toFixed(1)}% of keys moved (1/N = ${(100 / n).toFixed(1)}%)`,
      )
      assert.equal(movedElsewhere, 0, 'no key of a remaining target moved')
      assert.ok(Math.abs(share - 1 / n) < 0.25 / n, `share ${share} near 1/${n}`)
    }
  })

  it('moves keys only to a target that joins', () => {
    const set = targets(4)
    const b = ring()
    const before = placements(b, set.slice(0, 3))
    const after = placements(b, set)
    let moved = 0
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === after[i]) continue
      moved++
      assert.equal(after[i], set[3]!.id)
    }
    assert.ok(Math.abs(moved / KEYS.length - 0.25) < 0.05, `moved ${moved}`)
  })

  it('with boundedLoad, keeps every target at most c × the mean of tries in flight', () => {
    const c = 1.25
    const b = ring('header:x-user', c)
    const set = targets(4)
    // Every request asks for the same key, and none ends: without the bound one target takes all.
    const hot = session('/', ['X-User', 'hot'])
    for (let i = 1; i <= 400; i++) {
      const t = b.pick(set, hot)!
      t.inflight++
      for (const x of set)
        assert.ok(x.inflight <= Math.ceil((c * i) / set.length), `${x.id}: ${x.inflight} after ${i}`)
    }
    const loads = set.map((t) => t.inflight)
    console.log(
      `consistent-hash boundedLoad ${c}: one hot key, 400 requests in flight over 4 targets: ${loads.join(' ')}`,
    )
    assert.ok(Math.max(...loads) <= 125)
  })

  it('with boundedLoad and an even load, a removal moves few keys of remaining targets', () => {
    const set = targets(5)
    const b = ring('header:x-user', 1.25)
    const before = placements(b, set) // nothing in flight: no target is over its bound
    const after = placements(b, set.slice(0, 4))
    let elsewhere = 0
    for (let i = 0; i < KEYS.length; i++) if (before[i] !== after[i] && before[i] !== set[4]!.id) elsewhere++
    assert.equal(elsewhere, 0)
  })

  it('spreads requests without the key over the targets by weight', () => {
    const set = targets(3)
    set[0]!.weight = 2
    const b = ring()
    const seen = new Map<string, number>()
    for (let i = 0; i < 4000; i++) {
      const t = b.pick(set, session('/'))!
      seen.set(t.id, (seen.get(t.id) ?? 0) + 1)
    }
    assert.ok(Math.abs(seen.get(set[0]!.id)! - 2000) < 200, `${seen.get(set[0]!.id)}`)
  })
})
