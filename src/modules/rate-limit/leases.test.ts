/**
 * LeaseBook over a real SharedStore (a host and its client on a
 * MessageChannel, as a worker and its supervisor): concurrent requests are
 * decided exactly, with far fewer store operations than requests; unspent
 * leases go back; requests waiting on a denied lease share the denial.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it, type TestContext } from 'node:test'
import { MessageChannel } from 'node:worker_threads'
import { SharedStore, SharedStoreHost } from '../../store/shared.ts'
import type { Store } from '../../store/store.ts'
import { type Decision, gcra, gcraGiveBack, slidingWindow, slidingWindowGiveBack } from './algorithms.ts'
import { LeaseBook, type LeasePlan } from './leases.ts'

/** A worker's shared store, counting the updates it sends. */
function sharedStore(t: TestContext): { store: Store; host: SharedStoreHost; updates: () => number } {
  const host = new SharedStoreHost({ sweepIntervalMs: 0 })
  const { port1, port2 } = new MessageChannel()
  host.attach(port1)
  const store = new SharedStore(port2)
  let n = 0
  const update = store.update.bind(store)
  store.update = ((...a: Parameters<Store['update']>) => (n++, update(...a))) as Store['update']
  t.after(async () => {
    await store.close()
    host.close()
  })
  return { store, host, updates: () => n }
}

const GCRA: LeasePlan = {
  lease: gcra,
  giveBack: gcraGiveBack,
  args: ['1000', '100'],
  unit: '1000',
  validMs: 50,
}
const WINDOW: LeasePlan = {
  lease: slidingWindow,
  giveBack: slidingWindowGiveBack,
  args: ['86400000', '100'],
  unit: '86400000',
  validMs: 50,
}

/** rounds: `n` requests a round, each round's requests concurrent; the decisions. */
async function rounds(book: LeaseBook, key: string, n: number, count: number): Promise<Decision[]> {
  const all: Decision[] = []
  for (let r = 0; r < count; r++)
    all.push(...(await Promise.all(Array.from({ length: n }, () => book.take(key)))))
  return all
}

describe('LeaseBook', () => {
  for (const [name, plan] of [
    ['gcra', GCRA],
    ['sliding window', WINDOW],
  ] as const) {
    it(`${name}: two workers' books let exactly the limit through, in fewer store updates`, async (t) => {
      const { store, host, updates } = sharedStore(t)
      // A second worker on the same host.
      const { port1, port2 } = new MessageChannel()
      host.attach(port1)
      const other = new SharedStore(port2)
      t.after(() => other.close())
      const a = new LeaseBook(store, plan)
      const b = new LeaseBook(other, plan)
      const [da, db] = await Promise.all([rounds(a, 'k', 10, 20), rounds(b, 'k', 10, 20)])
      const allowed = [...da, ...db].filter((d) => d[0] === 1).length
      assert.equal(allowed, 100)
      // Worker a made 200 decisions; leases took far fewer messages than one each.
      assert.ok(updates() < 100, `${updates()} updates for 200 decisions`)
      const denied = da.find((d) => d[0] === 0)!
      assert.ok(Number(denied[2]) > 0, 'a denial says when to retry')
    })
  }

  it('gives back what a lease did not spend, so nothing is lost', async (t) => {
    const { store } = sharedStore(t)
    const book = new LeaseBook(store, GCRA)
    // Demand grows the lease: 1, then 2, 4, 8 at a time; the last is half spent.
    for (let i = 0; i < 8; i++) assert.equal((await book.take('k'))[0], 1)
    await sleep(GCRA.validMs * 3) // expired: the sweep gives the rest back
    // What is left, counted by another book: exactly 100 minus the 8 spent.
    const other = new LeaseBook(store, { ...GCRA, validMs: 10_000 })
    const left = (await rounds(other, 'k', 50, 4)).filter((d) => d[0] === 1).length
    assert.equal(left, 92)
  })

  it('denies the requests waiting on a denied lease with it, in one update', async (t) => {
    const { store, updates } = sharedStore(t)
    const book = new LeaseBook(store, GCRA)
    await rounds(book, 'k', 100, 3) // spends the limit
    const before = updates()
    const late = await Promise.all(Array.from({ length: 50 }, () => book.take('k')))
    assert.ok(
      late.every((d) => d[0] === 0),
      'all denied',
    )
    assert.equal(updates() - before, 1)
  })
})
