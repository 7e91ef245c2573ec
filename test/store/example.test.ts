/**
 * examples/stores.yaml works: loaded as `portcullis start` loads it, its
 * `stores:` builds stores that two gateway instances share through a real
 * redis-server (the example's URL pointed at the test's server).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import { StoreRegistry } from '../../src/store/registry.ts'
import { redisSkip, startRedisServer, type RedisServer } from '../helpers/redis-server.ts'
import { waitFor } from './conformance.ts'

const file = join(import.meta.dirname, '..', '..', 'examples', 'stores.yaml')

describe('examples/stores.yaml', { skip: redisSkip() }, () => {
  let server: RedisServer
  before(async () => {
    server = await startRedisServer()
  })
  after(() => server.stop())

  it('two instances count together and hear each other on redis', async (t) => {
    const loaded = await loadConfig(file, {})
    assert.ok(loaded.ok)
    const stores = { ...loaded.config.stores, redis: { ...loaded.config.stores.redis!, url: server.url } }
    assert.equal(stores.redis.keyPrefix, 'gateway-a:')
    assert.equal(stores.redis.timeout, 100)
    const [a, b] = [new StoreRegistry(stores), new StoreRegistry(stores)]
    t.after(() => Promise.all([a.close(), b.close()]))
    const heard: string[] = []
    await b.get('redis').subscribe('invalidate', (m) => heard.push(m))
    assert.equal(await a.get('redis').incr('hits', 1, { ttlMs: 60_000 }), 1)
    assert.equal(await b.get('redis').incr('hits', 1, { ttlMs: 60_000 }), 2)
    await a.get('redis').publish('invalidate', 'route:hello')
    await waitFor(() => heard.length === 1, 'the publish from the other instance')
    assert.deepEqual(heard, ['route:hello'])
  })
})
