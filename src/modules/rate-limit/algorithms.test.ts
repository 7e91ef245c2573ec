/**
 * The rate-limit scripts agree on every store: the same sequence of
 * decisions from the JavaScript side (memory, shared over a MessageChannel)
 * and the Lua side (a real redis-server).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { MessageChannel } from 'node:worker_threads'
import { redisSkip, startRedisServer, type RedisServer } from '../../../test/helpers/redis-server.ts'
import { MemoryStore } from '../../store/memory.ts'
import { RedisStore } from '../../store/redis.ts'
import { SharedStore, SharedStoreHost } from '../../store/shared.ts'
import type { Store } from '../../store/store.ts'
import { type Decision, gcra, gcraGiveBack, slidingWindow, slidingWindowGiveBack } from './algorithms.ts'

async function sequence(store: Store, key: string): Promise<{ gcra: Decision[]; window: Decision[] }> {
  const g: Decision[] = []
  const w: Decision[] = []
  // 5 per hour with a burst of 3: three pass, then one every 12 minutes.
  for (let i = 0; i < 5; i++) g.push(await store.update(`${key}:g`, gcra, [String(720_000), '3']))
  for (let i = 0; i < 5; i++) w.push(await store.update(`${key}:w`, slidingWindow, [String(86_400_000), '3']))
  // A rate so high its emission interval is below the clock's resolution: still a valid expiry.
  for (let i = 0; i < 3; i++) {
    const d = await store.update(`${key}:fast`, gcra, ['0.000001', '1000000000'])
    assert.equal(d[0], 1)
  }
  return { gcra: g, window: w }
}

function check(r: { gcra: Decision[]; window: Decision[] }): void {
  assert.deepEqual(
    r.gcra.map((d) => [d[0], d[1]]),
    [
      [1, 2],
      [1, 1],
      [1, 0],
      [0, 0],
      [0, 0],
    ],
  )
  // Denied: retry when the next cell is due (12 min, give or take the ms the calls took).
  assert.ok(Math.abs(Number(r.gcra[3]![2]) - 720_000) < 1000, r.gcra[3]![2])
  assert.ok(Math.abs(Number(r.gcra[2]![3]) - 2_160_000) < 1000, r.gcra[2]![3])
  assert.deepEqual(
    r.window.map((d) => [d[0], d[1]]),
    [
      [1, 2],
      [1, 1],
      [1, 0],
      [0, 0],
      [0, 0],
    ],
  )
  assert.ok(Number(r.window[3]![2]) > 0)
}

/**
 * leases: a limit of 100 (GCRA 100 per 100 s with a burst of 100; sliding
 * window 100 a day) leased out: a lease of 10, 4 of them given back, then
 * leases until the store denies. Exactly 100 are counted out in all, none
 * twice, and a give-back with a stale mark changes nothing.
 */
async function leases(store: Store, key: string): Promise<void> {
  const plans = [
    { lease: gcra, giveBack: gcraGiveBack, args: ['1000', '100'] },
    { lease: slidingWindow, giveBack: slidingWindowGiveBack, args: ['86400000', '100'] },
  ]
  for (const [i, p] of plans.entries()) {
    const k = `${key}:lease${i}`
    const first = await store.update(k, p.lease, [...p.args, 10, 10])
    assert.deepEqual(first.slice(0, 3), [10, 90, '0'])
    assert.ok(first[4] > 0 && first[4] <= 10, String(first[4]))
    assert.equal(await store.update(k, p.giveBack, [p.args[0]!, 4, `${first[5]}x`]), 0, 'stale mark')
    assert.equal(await store.update(k, p.giveBack, [p.args[0]!, 4, first[5]]), 1)
    let counted = 6
    const sizes: number[] = []
    for (;;) {
      const r = await store.update(k, p.lease, [...p.args, 1000, 10])
      if (r[0] === 0) {
        assert.ok(Number(r[2]) > 0, 'a denial says when to retry')
        break
      }
      sizes.push(r[0])
      counted += r[0]
    }
    assert.equal(counted, 100, `sizes ${sizes}`)
    // Never more than a quarter of what is left: the end is decided one at a time.
    assert.deepEqual(sizes.slice(0, 2), [23, 17])
    assert.deepEqual(sizes.slice(-4), [1, 1, 1, 1])
  }
  // A sliding-window lease is never valid past its window's end, whatever was asked.
  const short = await store.update(`${key}:lease-window`, slidingWindow, ['1000', '100', 10, 1e9])
  assert.ok(short[4] >= 0 && short[4] <= 1000, String(short[4]))
}

describe('rate-limit scripts', () => {
  it('decide the same on the memory store', async () => {
    const store = new MemoryStore()
    check(await sequence(store, 'm'))
    await leases(store, 'm')
    await store.close()
  })

  it('decide the same on the shared store', async () => {
    const host = new SharedStoreHost({ sweepIntervalMs: 0 })
    const { port1, port2 } = new MessageChannel()
    host.attach(port1)
    const store = new SharedStore(port2)
    check(await sequence(store, 's'))
    await leases(store, 's')
    await store.close()
    await host.close()
  })

  describe('on a real redis-server', { skip: redisSkip() }, () => {
    let server: RedisServer
    before(async () => {
      server = await startRedisServer()
    })
    after(() => server.stop())

    it('decide the same (Lua)', async (t) => {
      const store = new RedisStore({ url: server.url })
      t.after(() => store.close())
      check(await sequence(store, 'r'))
      await leases(store, 'r')
    })
  })
})
