/**
 * The shared store passes the conformance suite: two clients on two
 * MessageChannels of one host, in this thread (the host and clients do not
 * care which thread they are in; shared-workers.test.ts runs real workers).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MessageChannel } from 'node:worker_threads'
import { StoreError } from '../../src/store/errors.ts'
import { SharedStore, SharedStoreHost } from '../../src/store/shared.ts'
import { storeConformance, waitFor } from './conformance.ts'

function connect(host: SharedStoreHost, timeoutMs?: number): SharedStore {
  const { port1, port2 } = new MessageChannel()
  host.attach(port1)
  return new SharedStore(port2, { timeoutMs })
}

storeConformance('shared', async (t) => {
  let now = 1_000_000
  const host = new SharedStoreHost({ now: () => now, sweepIntervalMs: 0 })
  const a = connect(host)
  const b = connect(host)
  t.after(async () => {
    await a.close()
    await b.close()
    host.close()
  })
  return {
    a,
    b,
    async pass(ms) {
      now += ms
    },
  }
})

describe('SharedStore wiring', () => {
  it("the host's own store sees the workers' data and pub/sub", async () => {
    const host = new SharedStoreHost({ sweepIntervalMs: 0 })
    const w = connect(host)
    await w.incr('hits', 3)
    assert.equal(await host.store.get('hits'), '3')
    const got: string[] = []
    await w.subscribe('inval', (m) => got.push(m))
    await host.store.publish('inval', 'route-a')
    await waitFor(() => got.length === 1, 'delivery from the host')
    await w.close()
    host.close()
  })

  it('a closed port detaches from the host and fails the client with STORE_UNAVAILABLE', async () => {
    const host = new SharedStoreHost({ sweepIntervalMs: 0 })
    const { port1, port2 } = new MessageChannel()
    host.attach(port1)
    const w = new SharedStore(port2)
    assert.equal(await w.incr('k'), 1)
    port1.close()
    await waitFor(() => host.ports === 0, 'detach')
    await assert.rejects(w.get('k'), (e) => e instanceof StoreError && e.code === 'STORE_UNAVAILABLE')
    host.close()
  })

  it('a host that does not answer makes operations reject with STORE_TIMEOUT within the timeout', async () => {
    const { port1, port2 } = new MessageChannel()
    // port1 has no host: requests go nowhere.
    port1.on('message', () => {})
    const w = new SharedStore(port2, { timeoutMs: 50 })
    const started = performance.now()
    await assert.rejects(w.get('k'), (e) => e instanceof StoreError && e.code === 'STORE_TIMEOUT')
    const took = performance.now() - started
    assert.ok(took >= 45 && took < 200, `rejected after ${took} ms`)
    await w.close()
    port1.close()
  })
})
