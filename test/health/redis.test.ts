/**
 * `health.store: redis`: two gateways (two instances) on one Redis share one
 * lease, so each target is probed once per interval for both, and a verdict
 * reached by one is applied by the other; when one goes, the other probes on.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startFaultOrigin } from '../helpers/fault-origin.ts'
import { startGateway } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'
import { redisSkip, startRedisServer } from '../helpers/redis-server.ts'
import { HealthEvents, healthConfig } from './events.ts'

// Probe timeouts near the interval: on a loaded machine a probe of a live target must not time out.
const INTERVAL = 400

describe('health on redis', { skip: redisSkip() }, () => {
  it('two gateways: one probe per target per interval, verdicts shared', async (t) => {
    const redis = await startRedisServer()
    t.after(() => redis.stop())
    const a = await startFaultOrigin({ t, name: 'a' })
    const b = await startFaultOrigin({ t, name: 'b' })
    const config = {
      ...healthConfig([a.url, b.url], {
        store: 'redis',
        active: { path: '/healthz', interval: `${INTERVAL}ms`, timeout: '350ms', unhealthyThreshold: 3 },
      }),
      stores: { redis: { url: redis.url } },
    }
    const events = new HealthEvents(t)
    const one = await startGateway(config, { t })
    const two = await startGateway(config, { t })

    const from = a.count('/healthz')
    const started = performance.now()
    await new Promise((r) => setTimeout(r, 10 * INTERVAL))
    const probes = a.count('/healthz') - from
    const intervals = (performance.now() - started) / INTERVAL
    t.diagnostic(`${probes} probes of one target in ${intervals.toFixed(1)} intervals with 2 gateways`)
    assert.ok(probes >= 1 && probes <= intervals * 1.3 + 1, `${probes} probes in ${intervals} intervals`)

    const downs = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (events.all.filter((e) => e.event === 'down' && e.target === b.url).length >= 2) {
          clearInterval(check)
          resolve()
        }
      }, 20)
    })
    b.setFor('/healthz', { mode: 'error' })
    await downs // one per gateway
    // Neither gateway sends b a request any more. (Bodies are checked not to
    // be b's rather than to be a's: on a loaded machine a probe of a may time out.)
    const sent = b.count('/')
    for (const gw of [one, two]) {
      for (let i = 0; i < 4; i++) assert.notEqual((await get(gw.url)).body, 'b')
    }
    assert.equal(b.count('/'), sent)

    // The first gateway goes away: whichever held the lease, the other probes on.
    await one.close()
    const left = a.count('/healthz')
    await new Promise((r) => setTimeout(r, 6 * INTERVAL))
    assert.ok(
      a.count('/healthz') - left >= 2,
      `${a.count('/healthz') - left} probes after one gateway closed`,
    )
  })
})
