/**
 * The rateLimit policy over real sockets, on the memory and shared stores
 * (one event loop): 429 with Retry-After and the RateLimit fields, the
 * fields on allowed proxied responses, keys (header, client.ip under
 * trustedProxies), a top-level limit shared by two routes, both algorithms,
 * and configuration errors.
 */
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { configSchema, type GatewayConfigInput } from '../../config/schema.ts'
import { proxyConfig, startGateway, startOrigin } from '../../../test/helpers/gateway.ts'
import { get } from '../../../test/helpers/http-get.ts'

async function gateway(t: TestContext, extra: Omit<GatewayConfigInput, 'upstreams'>): Promise<string> {
  const origin = await startOrigin(undefined, { t })
  const gw = await startGateway(proxyConfig(origin.url, extra), { t })
  return gw.url
}

describe('rateLimit', () => {
  it('answers 429 with Retry-After, RateLimit fields, the code and the request id', async (t) => {
    const url = await gateway(t, {
      routes: [
        {
          name: 'api',
          match: {},
          upstream: 'origin',
          rateLimit: { rate: '3/m', store: 'memory', headers: true },
        },
      ],
    })
    const first = await get(`${url}/x`)
    assert.equal(first.status, 200)
    assert.equal(first.headers['ratelimit-policy'], '"api";q=3;w=60')
    assert.equal(first.headers['ratelimit'], '"api";r=2;t=20')
    assert.equal((await get(`${url}/x`)).headers['ratelimit'], '"api";r=1;t=40')
    assert.equal((await get(`${url}/x`)).headers['ratelimit'], '"api";r=0;t=60')
    const denied = await get(`${url}/x`, { accept: 'application/json', 'x-request-id': 'rl-1' })
    assert.equal(denied.status, 429)
    assert.equal(denied.headers['retry-after'], '20')
    assert.equal(denied.headers['ratelimit'], '"api";r=0;t=20')
    assert.deepEqual(JSON.parse(denied.body), {
      error: { status: 429, code: 'RATE_LIMITED', requestId: 'rl-1' },
    })
  })

  it('lets a burst through at once, then one per emission interval (GCRA)', async (t) => {
    const url = await gateway(t, {
      routes: [{ match: {}, upstream: 'origin', rateLimit: { rate: '10/s', burst: 2, store: 'shared' } }],
    })
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await get(url)).status)
    assert.deepEqual(statuses, [200, 200, 429])
    await sleep(120) // one emission interval (100 ms) later, one more may pass
    assert.equal((await get(url)).status, 200)
    assert.equal((await get(url)).status, 429)
  })

  it('counts per header value, and per real client address under trustedProxies', async (t) => {
    const url = await gateway(t, {
      proxy: { trustedProxies: ['127.0.0.1'] },
      routes: [
        { match: { path: '/h' }, upstream: 'origin', rateLimit: { rate: '1/m', key: 'header:x-api-key' } },
        { match: { path: '/ip' }, upstream: 'origin', rateLimit: { rate: '1/m', key: 'client.ip' } },
      ],
    })
    assert.equal((await get(`${url}/h`, { 'x-api-key': 'a' })).status, 200)
    assert.equal((await get(`${url}/h`, { 'x-api-key': 'b' })).status, 200)
    assert.equal((await get(`${url}/h`, { 'x-api-key': 'a' })).status, 429)
    assert.equal((await get(`${url}/ip`, { 'x-forwarded-for': '203.0.113.1' })).status, 200)
    assert.equal((await get(`${url}/ip`, { 'x-forwarded-for': '203.0.113.2' })).status, 200)
    // A client cannot pick its address: only the rightmost untrusted hop counts.
    assert.equal((await get(`${url}/ip`, { 'x-forwarded-for': '198.51.100.9, 203.0.113.1' })).status, 429)
  })

  it('keeps one limit for every route naming a top-level limit', async (t) => {
    const url = await gateway(t, {
      rateLimits: { team: { rate: '2/h', store: 'memory', headers: true } },
      routes: [
        { match: { path: '/a' }, upstream: 'origin', rateLimit: 'team' },
        {
          name: 'b',
          match: { path: '/b' },
          upstream: 'origin',
          rateLimit: ['team', { rate: '100/s', headers: true }],
        },
      ],
    })
    assert.equal((await get(`${url}/a`)).status, 200)
    const b = await get(`${url}/b`)
    assert.equal(b.status, 200)
    assert.equal(b.headers['ratelimit-policy'], '"team";q=2;w=3600, "b.1";q=100;w=1')
    assert.equal(b.headers['ratelimit'], '"team";r=0;t=3600, "b.1";r=99;t=1')
    assert.equal((await get(`${url}/b`)).status, 429)
    assert.equal((await get(`${url}/a`)).status, 429)
  })

  it('counts a sliding window', async (t) => {
    const url = await gateway(t, {
      routes: [{ match: {}, upstream: 'origin', rateLimit: { rate: '3/h', algorithm: 'sliding-window' } }],
    })
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await get(url)).status)
    assert.deepEqual(statuses, [200, 200, 200, 429])
  })

  it('guards fixed responses too', async (t) => {
    const url = await gateway(t, {
      routes: [{ match: {}, respond: { body: 'hi' }, rateLimit: { rate: '1/m' } }],
    })
    assert.equal((await get(url)).status, 200)
    assert.equal((await get(url)).status, 429)
  })

  it('refuses unknown limit names, bad rates and redis without stores.redis', () => {
    const r = configSchema.safeParse({
      rateLimits: { a: { rate: '5/s', store: 'redis' } },
      routes: [
        { match: {}, respond: {}, rateLimit: 'nope' },
        { match: {}, respond: {}, rateLimit: { rate: '5 per second' } },
      ],
    })
    assert.equal(r.success, false)
    const messages = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
    assert.ok(
      messages.includes("routes.0.rateLimit: unknown rate limit 'nope' (not in rateLimits)"),
      messages.join('\n'),
    )
    assert.ok(
      messages.some((m) => m.startsWith('routes.1.rateLimit.rate: invalid rate')),
      messages.join('\n'),
    )
    assert.ok(
      messages.includes('rateLimits.a.store: store: redis needs stores.redis (url, cluster or sentinel)'),
    )
  })
})
