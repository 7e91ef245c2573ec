/**
 * The concurrency limit across workers: two SharedSlots (two workers) on one
 * SharedStoreHost (their supervisor) never hold more than `max` in all,
 * spares go back so the other worker gets them, queues wait for slots the
 * other worker frees; and the slots script (JavaScript and Lua) frees the
 * slots of a holder not heard from for its ttl (a dead worker).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { MessageChannel } from 'node:worker_threads'
import { redisSkip, startRedisServer, type RedisServer } from '../../../test/helpers/redis-server.ts'
import type { HookResult } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import { MemoryStore } from '../../store/memory.ts'
import { RedisStore } from '../../store/redis.ts'
import { SharedStore, SharedStoreHost } from '../../store/shared.ts'
import type { Store } from '../../store/store.ts'
import type { ConcurrencyConfig } from '../../config/modules/concurrency.ts'
import { configSchema } from '../../config/schema.ts'
import { SharedSlots } from './shared-slots.ts'
import { slotsScript } from './slots-script.ts'

/** Two workers' stores on one host. */
function twoWorkers(t: TestContext): [Store, Store] {
  const host = new SharedStoreHost({ sweepIntervalMs: 0 })
  const stores = [0, 1].map(() => {
    const { port1, port2 } = new MessageChannel()
    host.attach(port1)
    return new SharedStore(port2)
  })
  t.after(async () => {
    await Promise.all(stores.map((s) => s.close()))
    host.close()
  })
  return [stores[0]!, stores[1]!]
}

/** A stand-in session: SharedSlots uses it as an identity, a refusal its id and Accept field. */
function session(n: number): Session {
  return { id: `s${n}`, header: () => undefined } as unknown as Session
}

const admitted = (r: HookResult | undefined) => r === undefined
const cfg = (c: Partial<ConcurrencyConfig>): ConcurrencyConfig => ({
  max: 5,
  queue: 0,
  queueTimeout: 1000,
  store: 'shared',
  ...c,
})

describe('SharedSlots', () => {
  it('admits max in all across two workers, then gives spares back to whoever needs them', async (t) => {
    const [sa, sb] = twoWorkers(t)
    const a = new SharedSlots(sa, 'cc:r', cfg({}))
    const b = new SharedSlots(sb, 'cc:r', cfg({}))
    const sessions = Array.from({ length: 12 }, (_, i) => session(i))
    const results = await Promise.all(sessions.map((s, i) => (i % 2 ? a : b).acquire(s)))
    assert.equal(results.filter(admitted).length, 5)
    assert.equal(a.active + b.active, 5)
    // Worker a's requests end; its slots go back within a few ticks, and b can have all 5.
    for (const [i, s] of sessions.entries()) if (i % 2 && admitted(results[i])) a.release(s)
    for (const [i, s] of sessions.entries()) if (!(i % 2) && admitted(results[i])) b.release(s)
    await sleep(60)
    const again = await Promise.all(Array.from({ length: 5 }, (_, i) => b.acquire(session(100 + i))))
    assert.equal(again.filter(admitted).length, 5)
    assert.equal(a.active, 0)
  })

  it("queues a worker's requests until the other worker frees a slot", async (t) => {
    const [sa, sb] = twoWorkers(t)
    const a = new SharedSlots(sa, 'cc:q', cfg({ max: 2 }))
    const b = new SharedSlots(sb, 'cc:q', cfg({ max: 2, queue: 1 }))
    const held = [session(1), session(2)]
    assert.ok((await Promise.all(held.map((s) => a.acquire(s)))).every(admitted))
    const waiting = b.acquire(session(3))
    const refused = await b.acquire(session(4)) // the queue (1) is full
    assert.equal(refused?.kind, 'respond')
    a.release(held[0]!)
    assert.equal(await waiting, undefined) // admitted once a's spare went back
    assert.equal(a.active + b.active, 2)
  })

  it('refuses (503) rather than exceeding the limit when the store fails', async (t) => {
    const [store] = twoWorkers(t)
    store.update = (() => Promise.reject(new Error('store down'))) as Store['update']
    const slots = new SharedSlots(store, 'cc:down', cfg({ queue: 4 }))
    const r = await slots.acquire(session(1))
    assert.equal(r?.kind, 'respond')
    assert.equal(r?.kind === 'respond' && r.response.status, 503)
    assert.equal(slots.active + slots.waiting, 0)
  })
})

describe('concurrency.store', () => {
  it('redis needs stores.redis, on a route and in a policy set', () => {
    const r = configSchema.safeParse({
      policies: { busy: { concurrency: { max: 2, store: 'redis' } } },
      routes: [{ match: {}, respond: {}, concurrency: { max: 2, store: 'redis' } }],
    })
    assert.equal(r.success, false)
    const messages = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
    for (const at of ['routes.0', 'policies.busy'])
      assert.ok(
        messages.includes(
          `${at}.concurrency.store: store: redis needs stores.redis (url, cluster or sentinel)`,
        ),
        messages.join('\n'),
      )
  })
})

describe('the slots script', () => {
  async function deadHolder(store: Store): Promise<void> {
    // A holder takes slots, then is never heard from again (ttl 100 ms).
    const taken = await store.update('cc:dead', slotsScript, ['dead', 0, 4, 4, 100])
    assert.deepEqual(taken, [1, 1]) // a quarter of what is free, at least one
    const more = await store.update('cc:dead', slotsScript, ['dead', 1, 3, 4, 100])
    assert.deepEqual(more, [1, 2])
    const other = await store.update('cc:dead', slotsScript, ['live', 0, 4, 4, 100])
    assert.deepEqual(other, [1, 3]) // both count
    await sleep(150)
    // The dead one's two are free again; the live one (renewing now) keeps its own.
    const after = await store.update('cc:dead', slotsScript, ['live', 1, 3, 4, 1000])
    assert.deepEqual(after, [1, 2])
    // Giving back: a holder states a lower count.
    assert.deepEqual(await store.update('cc:dead', slotsScript, ['live', 0, 0, 4, 1000]), [0, 0])
    assert.equal(await store.get('cc:dead'), undefined)
  }

  it('frees a silent holder after its ttl (memory)', async () => {
    const store = new MemoryStore()
    await deadHolder(store)
    await store.close()
  })

  describe('on a real redis-server', { skip: redisSkip() }, () => {
    let server: RedisServer
    before(async () => {
      server = await startRedisServer()
    })
    after(() => server.stop())

    it('frees a silent holder after its ttl (Lua)', async (t) => {
      const store = new RedisStore({ url: server.url })
      t.after(() => store.close())
      await deadHolder(store)
    })
  })
})
