/**
 * Each deployment mode builds the node-redis options it should: the right
 * client kind, seed nodes, no offline queue, the configured timeouts and a
 * backoff that grows and is capped. (No cluster or sentinels are started:
 * these check what would be handed to node-redis.)
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { backoffDelay, planRedisClient } from './redis-options.ts'

describe('planRedisClient', () => {
  it('one server: the url, the offline queue off, the connect timeout', () => {
    const plan = planRedisClient({ url: 'redis://10.0.0.5:6380/2', connectTimeoutMs: 700 })
    assert.equal(plan.mode, 'single')
    assert.ok(plan.mode === 'single')
    assert.equal(plan.options.url, 'redis://10.0.0.5:6380/2')
    assert.equal(plan.options.disableOfflineQueue, true)
    assert.equal(plan.options.socket?.connectTimeout, 700)
  })

  it('defaults to redis://127.0.0.1:6379', () => {
    const plan = planRedisClient({})
    assert.ok(plan.mode === 'single')
    assert.equal(plan.options.url, 'redis://127.0.0.1:6379')
  })

  it('cluster: every seed node, and the defaults every discovered node gets', () => {
    const plan = planRedisClient({ cluster: { nodes: ['redis://a:7000', 'redis://b:7001'] } })
    assert.ok(plan.mode === 'cluster')
    assert.deepEqual(plan.options.rootNodes, [{ url: 'redis://a:7000' }, { url: 'redis://b:7001' }])
    assert.equal(plan.options.defaults?.disableOfflineQueue, true)
    assert.equal(typeof plan.options.defaults?.socket?.reconnectStrategy, 'function')
  })

  it('sentinel: the master name, the sentinels, and credentials for the data nodes only', () => {
    const plan = planRedisClient({
      sentinel: {
        masterName: 'mymaster',
        sentinels: [{ host: 's1', port: 26379 }],
        password: 'pw',
      },
    })
    assert.ok(plan.mode === 'sentinel')
    assert.equal(plan.options.name, 'mymaster')
    assert.deepEqual(plan.options.sentinelRootNodes, [{ host: 's1', port: 26379 }])
    assert.equal(plan.options.nodeClientOptions?.password, 'pw')
    assert.equal(plan.options.sentinelClientOptions?.password, undefined)
    assert.equal(plan.options.nodeClientOptions?.disableOfflineQueue, true)
  })

  it('reconnects forever with a doubling, capped, jittered delay, and tells the observer', () => {
    const seen: [number, number][] = []
    const plan = planRedisClient({ reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }, (a, d) =>
      seen.push([a, d]),
    )
    assert.ok(plan.mode === 'single')
    const strategy = plan.options.socket!.reconnectStrategy as (n: number, e: Error) => number
    const delays = [0, 1, 2, 3, 4, 50].map((n) => strategy(n, new Error('refused')))
    assert.deepEqual(
      seen.map(([a]) => a),
      [1, 2, 3, 4, 5, 51],
    )
    for (const [i, bound] of [100, 200, 400, 800, 1000, 1000].entries()) {
      assert.ok(delays[i]! <= bound && delays[i]! >= bound * 0.8, `attempt ${i}: ${delays[i]} vs ${bound}`)
    }
    assert.ok(backoffDelay(1000, 100, 5000) <= 5000)
  })
})
