/**
 * Rate limits on a real redis-server: two gateways sharing Redis with a
 * limit of 100 let exactly 100 of 2,000 concurrent requests through; a
 * stopped Redis is met with the configured fail mode at once, a frozen one
 * within the decision timeout, and limits are exact again once it is back.
 */
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import { after, before, describe, it } from 'node:test'
import type { GatewayConfigInput } from '../../src/config/schema.ts'
import {
  rateLimitFailureChannel,
  type RateLimitFailureMessage,
  setRateLimitLog,
} from '../../src/modules/rate-limit/index.ts'
import { proxyConfig, startGateway, startOrigin } from '../helpers/gateway.ts'
import { burst, get } from '../helpers/http-get.ts'
import { redisSkip, startRedisServer, type RedisServer } from '../helpers/redis-server.ts'

describe('rateLimit on redis', { skip: redisSkip() }, () => {
  let server: RedisServer
  before(async () => {
    server = await startRedisServer()
  })
  after(() => server.stop())

  it('two gateways sharing Redis let exactly 100 of 2,000 concurrent requests through', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const config = proxyConfig(origin.url, {
      stores: { redis: { url: server.url, keyPrefix: 'exact:' } },
      rateLimits: { api: { rate: '100/h', store: 'redis' } },
      routes: [{ match: {}, upstream: 'origin', rateLimit: 'api' }],
    })
    const [a, b] = await Promise.all([startGateway(config, { t }), startGateway(config, { t })])
    const started = performance.now()
    const counts = await burst([a.url, b.url], 2000, 100)
    const ms = Math.round(performance.now() - started)
    t.diagnostic(`2 gateways, 2,000 requests: ${JSON.stringify([...counts])} in ${ms} ms`)
    assert.equal(counts.get(200), 100)
    assert.equal(counts.get(429), 1900)
    assert.equal(origin.requests.length, 100)
  })

  it('fails open or closed as configured, bounded by the decision timeout, and recovers', async (t) => {
    const failures: RateLimitFailureMessage[] = []
    const onFailure = (m: unknown) => failures.push(m as RateLimitFailureMessage)
    diagnostics.subscribe(rateLimitFailureChannel.name, onFailure)
    t.after(() => diagnostics.unsubscribe(rateLimitFailureChannel.name, onFailure))
    const origin = await startOrigin(undefined, { t })
    const limit = { rate: '2/h', store: 'redis' as const, key: 'route' as const }
    const config: GatewayConfigInput = proxyConfig(origin.url, {
      stores: {
        redis: { url: server.url, keyPrefix: 'fail:', timeout: '100ms', reconnect: { maxDelay: '100ms' } },
      },
      routes: [
        { name: 'open', match: { path: '/open' }, upstream: 'origin', rateLimit: limit },
        {
          name: 'closed',
          match: { path: '/closed' },
          upstream: 'origin',
          rateLimit: { ...limit, failMode: 'closed' },
        },
      ],
    })
    const gw = await startGateway(config, { t })
    // After the gateway: a gateway points the rate limit's log at its own error log when made.
    const lines: string[] = []
    const previous = setRateLimitLog((line) => lines.push(line))
    t.after(() => setRateLimitLog(previous))
    assert.equal((await get(`${gw.url}/closed`)).status, 200)

    await server.stop()
    assert.equal((await get(`${gw.url}/open`)).status, 200)
    const closed = await get(`${gw.url}/closed`, { accept: 'application/json' })
    assert.equal(closed.status, 503)
    assert.equal(JSON.parse(closed.body).error.code, 'RATE_LIMIT_UNAVAILABLE')
    assert.deepEqual(
      failures.map((f) => [f.route, f.failMode, f.count]),
      [
        ['open', 'open', 1],
        ['closed', 'closed', 1],
      ],
    )
    // Logged: one line per limit, naming the code and the mode, never a key or credential.
    assert.equal(lines.length, 2, lines.join('\n'))
    assert.match(
      lines[0]!,
      /rate limit open \(route open\): store failed \(STORE_UNAVAILABLE\), failing open/,
    )
    assert.match(lines[1]!, /failing closed/)

    await server.start()
    await waitForStatus(`${gw.url}/closed`, 200, 5000) // reconnected (a fresh server: counts start at 0)
    server.pause() // accepts, never answers: each decision ends at the 100 ms timeout
    const t0 = performance.now()
    const [open, closedFrozen] = await Promise.all([get(`${gw.url}/open`), get(`${gw.url}/closed`)])
    const waited = performance.now() - t0
    server.resume()
    assert.deepEqual([open.status, closedFrozen.status], [200, 503])
    assert.ok(waited < 1000, `a frozen Redis held requests ${Math.round(waited)} ms`)
    t.diagnostic(`frozen Redis: answered in ${Math.round(waited)} ms (timeout 100 ms)`)

    // Redis ran the frozen decisions once thawed, so /closed has spent its 2 (one 200, one 503 to
    // the client): recovered, the next decision is Redis's again, a 429.
    await waitForStatus(`${gw.url}/closed`, 429, 5000)
    assert.equal((await get(`${gw.url}/closed`)).status, 429)
    assert.ok(
      lines.some((l) => /rate limit closed \(route closed\): store answers again/.test(l)),
      lines.join('\n'),
    )
  })
})

async function waitForStatus(url: string, status: number, timeout: number): Promise<void> {
  const until = Date.now() + timeout
  for (;;) {
    const r = await get(url)
    if (r.status === status) return
    if (r.status !== 503) throw new Error(`${url}: ${r.status}, expected ${status} once Redis answers`)
    if (Date.now() > until) throw new Error(`${url}: still ${r.status} after ${timeout} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
