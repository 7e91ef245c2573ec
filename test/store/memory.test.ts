/**
 * The memory store passes the conformance suite with an injected clock, and
 * does not keep expired keys nobody reads again.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryStore } from '../../src/store/memory.ts'
import { storeConformance } from './conformance.ts'

storeConformance('memory', async (t) => {
  let now = 1_000_000
  const store = new MemoryStore({ now: () => now, sweepIntervalMs: 0 })
  t.after(() => store.close())
  return {
    a: store,
    b: store,
    async pass(ms) {
      now += ms
    },
  }
})

describe('MemoryStore expiry', () => {
  it('the sweep drops expired keys that are never read again, a batch at a time', async () => {
    let now = 0
    const store = new MemoryStore({ now: () => now, sweepIntervalMs: 0, sweepBatch: 100 })
    for (let i = 0; i < 250; i++) await store.set(`k${i}`, 'v', { ttlMs: i < 200 ? 10 : 1000 })
    now = 20
    store.table.sweep()
    assert.equal(store.table.size, 150)
    store.table.sweep()
    store.table.sweep()
    assert.equal(store.table.size, 50)
    await store.close()
  })

  it('the sweep timer does not keep the process alive', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 10 })
    await store.set('k', 'v', { ttlMs: 1 })
    // Were the timer ref'd, the test runner would report this file as never ending.
    await store.close()
  })
})
