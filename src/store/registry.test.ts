/**
 * The registry builds each configured store once and picks the shared
 * store's side from where it runs.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MessageChannel } from 'node:worker_threads'
import { MemoryStore } from './memory.ts'
import { redisStoreOptions, StoreRegistry } from './registry.ts'
import { SharedStore, SharedStoreHost } from './shared.ts'

describe('StoreRegistry', () => {
  it('one store per kind, however many features ask', async () => {
    const stores = new StoreRegistry()
    assert.equal(stores.get('memory'), stores.get('memory'))
    assert.ok(stores.get('memory') instanceof MemoryStore)
    await stores.close()
  })

  it('shared: a memory store without workers, the host in the supervisor, a client in a worker', async () => {
    const alone = new StoreRegistry()
    assert.equal(alone.get('shared').kind, 'shared')
    assert.ok(alone.get('shared') instanceof MemoryStore)
    const host = new SharedStoreHost({ sweepIntervalMs: 0 })
    assert.equal(new StoreRegistry({}, { sharedHost: host }).get('shared'), host.store)
    const { port1, port2 } = new MessageChannel()
    host.attach(port1)
    const worker = new StoreRegistry({ shared: { timeout: 500 } }, { sharedPort: port2 })
    assert.ok(worker.get('shared') instanceof SharedStore)
    await worker.get('shared').set('k', 'v')
    assert.equal(await host.store.get('k'), 'v')
    await Promise.all([alone.close(), worker.close()])
    host.close()
  })

  it('maps stores.redis to the RedisStore options', () => {
    assert.deepEqual(
      redisStoreOptions({
        url: 'redis://h:1',
        timeout: 100,
        connectTimeout: 900,
        reconnect: { maxDelay: 2000 },
      }),
      {
        name: 'redis',
        url: 'redis://h:1',
        cluster: undefined,
        sentinel: undefined,
        keyPrefix: undefined,
        operationTimeoutMs: 100,
        connectTimeoutMs: 900,
        reconnect: { minDelayMs: undefined, maxDelayMs: 2000 },
      },
    )
  })

  it('redis without stores.redis is a configuration mistake', () => {
    assert.throws(() => new StoreRegistry().get('redis'), /stores.redis is not configured/)
  })
})
