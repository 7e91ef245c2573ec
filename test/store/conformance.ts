/**
 * The one conformance suite every Store implementation passes. Each test
 * file (memory, shared, redis) calls `storeConformance` with a factory that
 * makes two clients of the same data: what one writes the other reads, and
 * what one publishes the other's subscribers receive.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { StoreError } from '../../src/store/errors.ts'
import { TTL_MISSING, TTL_NONE, type Store } from '../../src/store/store.ts'
import { appendKeep, failing, takeAll, takeUpTo } from './scripts.ts'

/** Two clients of one store's data, and a way to let time pass for expiry. */
export interface StoreFixture {
  a: Store
  b: Store
  /** Lets `ms` pass: advances an injected clock, or sleeps for a real server. */
  pass(ms: number): Promise<void>
}

/** waitFor polls `check` until it holds, for up to 2 s (deliveries cross threads or sockets). */
export async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await sleep(5)
  assert.ok(check(), `timed out waiting for ${what}`)
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof StoreError && e.code === code)
}

/** storeConformance declares the suite for one implementation. */
export function storeConformance(
  name: string,
  make: (t: TestContext) => Promise<StoreFixture>,
  options: { skip?: string } = {},
): void {
  describe(`Store conformance: ${name}`, { skip: options.skip }, () => {
    // Keys are unique per test, so tests sharing a server never see each other's.
    const key = (k: string) => `${randomUUID()}:${k}`

    it('get, set, set ifAbsent, delete', async (t) => {
      const { a, b } = await make(t)
      const k = key('k')
      assert.equal(await a.get(k), undefined)
      assert.equal(await a.set(k, 'v1'), true)
      assert.equal(await b.get(k), 'v1')
      assert.equal(await b.set(k, 'v2', { ifAbsent: true }), false)
      assert.equal(await a.get(k), 'v1')
      assert.equal(await b.delete(k), true)
      assert.equal(await a.delete(k), false)
      assert.equal(await a.get(k), undefined)
      assert.equal(await a.set(k, 'v3', { ifAbsent: true }), true)
      assert.equal(await b.get(k), 'v3')
    })

    it('set with a TTL expires; ttl reports the remaining life, TTL_NONE and TTL_MISSING', async (t) => {
      const { a, b, pass } = await make(t)
      const k = key('ttl')
      await a.set(k, 'v', { ttlMs: 150 })
      const left = await b.ttl(k)
      assert.ok(left > 0 && left <= 150, `ttl ${left}`)
      await a.set(key('forever'), 'v')
      assert.equal(await a.ttl(key('missing')), TTL_MISSING)
      const forever = key('forever2')
      await a.set(forever, 'v')
      assert.equal(await a.ttl(forever), TTL_NONE)
      await pass(250)
      assert.equal(await b.get(k), undefined)
      assert.equal(await a.ttl(k), TTL_MISSING)
      assert.equal(await a.get(forever), 'v')
    })

    it('incr counts from zero, by n and negative; get reads the counter as a string', async (t) => {
      const { a, b } = await make(t)
      const k = key('n')
      assert.equal(await a.incr(k), 1)
      assert.equal(await b.incr(k, 5), 6)
      assert.equal(await a.incr(k, -2), 4)
      assert.equal(await b.get(k), '4')
      await a.set(k, '10')
      assert.equal(await a.incr(k), 11)
    })

    it('incr with ttlMs sets the expiry on the first increment only', async (t) => {
      const { a, b, pass } = await make(t)
      const k = key('window')
      assert.equal(await a.incr(k, 1, { ttlMs: 200 }), 1)
      await pass(120)
      assert.equal(await b.incr(k, 1, { ttlMs: 200 }), 2)
      // Not pushed back by the second increment: gone 200 ms after the first.
      await pass(130)
      assert.equal(await a.get(k), undefined)
      assert.equal(await b.incr(k, 1, { ttlMs: 200 }), 1)
    })

    it('incr on a value that is not an integer rejects with STORE_WRONG_TYPE', async (t) => {
      const { a } = await make(t)
      const k = key('text')
      await a.set(k, 'abc')
      await rejectsWith(a.incr(k), 'STORE_WRONG_TYPE')
      assert.equal(await a.get(k), 'abc')
    })

    it('compareAndSet sets only from the expected value (undefined: absent)', async (t) => {
      const { a, b, pass } = await make(t)
      const k = key('cas')
      assert.equal(await a.compareAndSet(k, undefined, 'one'), true)
      assert.equal(await b.compareAndSet(k, undefined, 'two'), false)
      assert.equal(await b.compareAndSet(k, 'zero', 'two'), false)
      assert.equal(await b.compareAndSet(k, 'one', 'two', { ttlMs: 100 }), true)
      assert.equal(await a.get(k), 'two')
      await pass(200)
      assert.equal(await a.get(k), undefined)
    })

    it('update runs a script atomically: a bounded take with its expiry', async (t) => {
      const { a, b, pass } = await make(t)
      const k = key('take')
      assert.deepEqual(await a.update(k, takeUpTo, [2, 150]), [1, 1])
      assert.deepEqual(await b.update(k, takeUpTo, [2, 150]), [1, 2])
      assert.deepEqual(await a.update(k, takeUpTo, [2, 150]), [0, 2])
      await pass(250)
      assert.deepEqual(await b.update(k, takeUpTo, ['2', '150']), [1, 1])
    })

    it('update keeps the expiry when the script sets none, and may delete', async (t) => {
      const { a, b, pass } = await make(t)
      const k = key('append')
      await a.set(k, 'x', { ttlMs: 150 })
      assert.equal(await b.update(k, appendKeep, ['y']), 'xy')
      assert.equal(await a.update(k, appendKeep, ['z']), 'xyz')
      const left = await a.ttl(k)
      assert.ok(left > 0 && left <= 150, `ttl kept: ${left}`)
      assert.equal(await b.update(k, takeAll), 'xyz')
      assert.equal(await a.update(k, takeAll), null)
      assert.equal(await a.get(k), undefined)
      await a.update(k, appendKeep, ['q'])
      assert.equal(await a.ttl(k), TTL_NONE)
      await pass(10)
    })

    it('a failing script rejects with STORE_SCRIPT_FAILED', async (t) => {
      const { a } = await make(t)
      await rejectsWith(a.update(key('f'), failing), 'STORE_SCRIPT_FAILED')
      assert.equal(await a.incr(key('after')), 1)
    })

    it('concurrent increments from two clients are exact', async (t) => {
      const { a, b } = await make(t)
      const k = key('race')
      const all: Promise<number>[] = []
      for (let i = 0; i < 500; i++) all.push(a.incr(k), b.incr(k))
      const results = await Promise.all(all)
      assert.equal(await a.get(k), '1000')
      // Every increment saw a distinct value: none was lost or doubled.
      assert.equal(new Set(results).size, 1000)
    })

    it('publish reaches subscribers on every client; unsubscribe stops delivery', async (t) => {
      const { a, b } = await make(t)
      const ch = key('ch')
      const gotA: string[] = []
      const gotB: string[] = []
      const gotOther: string[] = []
      const unA = await a.subscribe(ch, (m) => gotA.push(m))
      const unB = await b.subscribe(ch, (m) => gotB.push(m))
      await b.subscribe(key('other'), (m) => gotOther.push(m))
      await a.publish(ch, 'hello')
      await waitFor(() => gotA.length === 1 && gotB.length === 1, 'both subscribers')
      assert.deepEqual([gotA, gotB], [['hello'], ['hello']])
      await unB()
      await b.publish(ch, 'again')
      await waitFor(() => gotA.length === 2, 'the remaining subscriber')
      assert.deepEqual([gotA, gotB, gotOther], [['hello', 'again'], ['hello'], []])
      await unA()
    })

    it('two handlers on one channel both receive; a throwing handler does not stop the other', async (t) => {
      const { a, b } = await make(t)
      const ch = key('ch2')
      const got: string[] = []
      await b.subscribe(ch, () => {
        throw new Error('handler bug')
      })
      const un = await b.subscribe(ch, (m) => got.push(m))
      await a.publish(ch, 'm1')
      await waitFor(() => got.length === 1, 'the second handler')
      await un()
    })

    it('operations after close reject with STORE_CLOSED', async (t) => {
      const { a } = await make(t)
      await a.close()
      await rejectsWith(a.get(key('x')), 'STORE_CLOSED')
    })
  })
}
