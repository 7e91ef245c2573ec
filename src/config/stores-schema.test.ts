/**
 * `stores:` validates as docs/configuration.md says: defaults, units, the
 * three ways to reach Redis, and one line per mistake.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { configSchema } from './schema.ts'
import { storesSchema } from './stores-schema.ts'

describe('stores schema', () => {
  it('defaults: memory and shared tuned, no redis', () => {
    assert.deepEqual(configSchema.parse({}).stores, {
      memory: { sweepInterval: 5000 },
      shared: { timeout: 1000, sweepInterval: 5000 },
    })
  })

  it('redis by url, with units converted to ms; a validated section validates again unchanged', () => {
    const stores = storesSchema.parse({
      redis: { url: 'redis://127.0.0.1:6379', timeout: '100ms', reconnect: { maxDelay: '2s' } },
    })
    assert.deepEqual(stores.redis, {
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'portcullis:',
      timeout: 100,
      connectTimeout: 2000,
      reconnect: { minDelay: 100, maxDelay: 2000 },
    })
    assert.deepEqual(storesSchema.parse(stores), stores)
    const sentinel = storesSchema.parse({ redis: { sentinel: { masterName: 'm', sentinels: ['s:1'] } } })
    assert.deepEqual(storesSchema.parse(sentinel), sentinel)
  })

  it('redis cluster and sentinel (HOST:PORT or { host, port })', () => {
    const cluster = storesSchema.parse({
      redis: { cluster: { nodes: ['redis://a:7000', 'redis://b:7001'] } },
    })
    assert.deepEqual(cluster.redis?.cluster, { nodes: ['redis://a:7000', 'redis://b:7001'] })
    const sentinel = storesSchema.parse({
      redis: {
        sentinel: { masterName: 'main', sentinels: ['s1:26379', { host: 's2', port: 26380 }, '[::1]:26381'] },
      },
    })
    assert.deepEqual(sentinel.redis?.sentinel?.sentinels, [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26380 },
      { host: '::1', port: 26381 },
    ])
  })

  it('refuses none or several of url, cluster, sentinel, bad URLs, durations and addresses', () => {
    const problems = (input: unknown) =>
      storesSchema.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? []
    assert.deepEqual(problems({ redis: {} }), ['redis: give exactly one of url, cluster or sentinel'])
    assert.deepEqual(problems({ redis: { url: 'redis://a:1', cluster: { nodes: ['redis://b:2'] } } }), [
      'redis: give exactly one of url, cluster or sentinel',
    ])
    assert.deepEqual(problems({ redis: { url: 'http://a:1' } }), [
      'redis.url: must be a redis:// or rediss:// URL',
    ])
    assert.match(
      problems({ redis: { url: 'redis://a:1', timeout: 'soon' } })[0]!,
      /^redis.timeout: invalid duration/,
    )
    assert.match(
      problems({ redis: { sentinel: { masterName: 'm', sentinels: ['s1'] } } })[0]!,
      /^redis.sentinel.sentinels.0: invalid sentinel address/,
    )
    assert.match(problems({ shared: { timeot: '1s' } })[0]!, /timeot/)
  })
})
