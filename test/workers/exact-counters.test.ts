/**
 * Issue 11's exactness, through the gateway: a counter incremented 100,000
 * times by requests from 50 connections ends at exactly 100,000, on the
 * shared store across 2 worker processes and on Redis across 2 gateways.
 * The counter is a rate limit keyed by route with a burst of 100,000 and a
 * refill of one a day (none during the test): of 100,002 requests exactly
 * 100,000 pass. (Each
 * connection sends its 2,000 requests pipelined, so the per-connection
 * request cap is raised.)
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startWithConfig, withTempDir } from '../cli/run-cli.ts'
import { startGateway } from '../helpers/gateway.ts'
import { pipelined } from '../helpers/pipelined.ts'
import { redisSkip, startRedisServer } from '../helpers/redis-server.ts'

const N = 100_000

describe('exact counters through the gateway', () => {
  it(
    '2 workers x 50 connections: 100,000 increments on the shared store end at exactly 100,000',
    { timeout: 120_000 },
    async (t) => {
      await withTempDir(async (dir) => {
        const { cli, port } = await startWithConfig(t, dir, [
          'workers: 2',
          'limits: { maxRequestsPerConnection: 1000000 }',
          'listen:',
          '  - address: 127.0.0.1:0',
          'routes:',
          '  - name: counted',
          '    respond: { body: ok }',
          `    rateLimit: { rate: 1/d, burst: ${N}, key: route, store: shared }`,
        ])
        const started = performance.now()
        const counts = await pipelined([Number(port)], N + 2, 50)
        t.diagnostic(
          `2 workers: ${N} requests in ${Math.round(performance.now() - started)} ms: ${JSON.stringify([...counts])}`,
        )
        assert.equal(counts.get(200), N)
        assert.equal(counts.get(429), 2)
        cli.child.kill('SIGTERM')
        assert.equal(await cli.exited, 0)
      })
    },
  )

  it(
    '2 gateways x 50 connections: 100,000 increments on Redis end at exactly 100,000',
    { skip: redisSkip(), timeout: 120_000 },
    async (t) => {
      const redis = await startRedisServer()
      t.after(() => redis.stop())
      const config = {
        stores: { redis: { url: redis.url, keyPrefix: 'exact-counter:' } },
        limits: { maxRequestsPerConnection: 1_000_000 },
        routes: [
          {
            name: 'counted',
            respond: { body: 'ok' },
            rateLimit: { rate: '1/d', burst: N, key: 'route' as const, store: 'redis' as const },
          },
        ],
      }
      const [a, b] = await Promise.all([startGateway(config, { t }), startGateway(config, { t })])
      const started = performance.now()
      const counts = await pipelined([a.port, b.port], N + 2, 50)
      t.diagnostic(
        `2 gateways: ${N} requests in ${Math.round(performance.now() - started)} ms: ${JSON.stringify([...counts])}`,
      )
      assert.equal(counts.get(200), N)
      assert.equal(counts.get(429), 2)
    },
  )
})
