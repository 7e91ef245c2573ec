/**
 * cors over real sockets: preflights answered at the gateway (never
 * upstream, before auth), exact and pattern origins, credentials, allowed
 * and exposed headers, max-age, Vary: Origin, CORS fields on gateway errors,
 * nothing for other origins, and "*" with credentials refused.
 */
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { proxyConfig, startGateway, startOrigin, type OriginHandle } from '../../../test/helpers/gateway.ts'
import { get } from '../../../test/helpers/http-get.ts'
import { configSchema } from '../../config/schema.ts'

async function gateway(t: TestContext, route: object): Promise<{ url: string; origin: OriginHandle }> {
  const origin = await startOrigin(undefined, { t })
  const gw = await startGateway(
    proxyConfig(origin.url, { routes: [{ match: {}, upstream: 'origin', ...route }] }),
    {
      t,
    },
  )
  return { url: gw.url, origin }
}

const preflight = (origin: string, extra: Record<string, string> = {}) => ({
  origin,
  'access-control-request-method': 'PUT',
  ...extra,
})

describe('cors', () => {
  it('answers preflights at the gateway, before auth, for exact and pattern origins', async (t) => {
    const { url, origin } = await gateway(t, {
      cors: {
        origins: ['https://app.example.com', 'https://*.example.org'],
        methods: ['GET', 'PUT'],
        credentials: true,
        maxAge: '1h',
      },
      auth: { apiKey: { keys: [{ consumer: 'a', hash: `sha256:${'0'.repeat(64)}` }] } },
    })
    const res = await get(
      url,
      preflight('https://app.example.com', { 'access-control-request-headers': 'x-a, content-type' }),
      { method: 'OPTIONS' },
    )
    assert.equal(res.status, 204)
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com')
    assert.equal(res.headers['access-control-allow-methods'], 'GET, PUT')
    assert.equal(res.headers['access-control-allow-headers'], 'x-a, content-type')
    assert.equal(res.headers['access-control-allow-credentials'], 'true')
    assert.equal(res.headers['access-control-max-age'], '3600')
    assert.match(res.headers['vary']!, /Origin/)
    const sub = await get(url, preflight('https://a.b.example.org'), { method: 'OPTIONS' })
    assert.equal(sub.headers['access-control-allow-origin'], 'https://a.b.example.org')
    for (const evil of [
      'https://example.org',
      'https://evil.com',
      'https://app.example.com.evil.com',
      'null',
      'http://app.example.com',
    ]) {
      const r = await get(url, preflight(evil), { method: 'OPTIONS' })
      assert.equal(r.status, 204)
      assert.equal(r.headers['access-control-allow-origin'], undefined, evil)
    }
    assert.equal(origin.requests.length, 0)
  })

  it('adds allow, credentials and expose fields to responses, gateway errors included', async (t) => {
    const { url } = await gateway(t, {
      cors: { origins: ['https://app.example.com'], credentials: true, exposeHeaders: ['RateLimit', 'X-Id'] },
      rateLimit: { rate: '1/h', key: 'route', headers: true },
    })
    const ok = await get(url, { origin: 'https://app.example.com' })
    assert.equal(ok.status, 200)
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com')
    assert.equal(ok.headers['access-control-allow-credentials'], 'true')
    assert.equal(ok.headers['access-control-expose-headers'], 'RateLimit, X-Id')
    assert.equal(ok.headers['vary'], 'Origin')
    assert.ok(ok.headers['ratelimit'] !== undefined) // both modules' fields, each once
    const limited = await get(url, { origin: 'https://app.example.com' })
    assert.equal(limited.status, 429)
    assert.equal(limited.headers['access-control-allow-origin'], 'https://app.example.com')
    const other = await get(url, { origin: 'https://evil.com' })
    assert.equal(other.headers['access-control-allow-origin'], undefined)
    assert.equal(other.headers['vary'], 'Origin')
  })

  it('allows any origin with * (without credentials), with a literal *', async (t) => {
    const { url } = await gateway(t, { cors: { origins: '*', headers: ['x-a'] } })
    const res = await get(url, { origin: 'https://anything.test' })
    assert.equal(res.headers['access-control-allow-origin'], '*')
    const pre = await get(
      url,
      preflight('https://anything.test', { 'access-control-request-headers': 'x-b' }),
      { method: 'OPTIONS' },
    )
    assert.equal(pre.headers['access-control-allow-origin'], '*')
    assert.equal(pre.headers['access-control-allow-headers'], 'x-a')
  })

  it('refuses * with credentials and origins with a path', () => {
    const issues = (cors: object) => {
      const r = configSchema.safeParse({ routes: [{ match: {}, respond: {}, cors }] })
      return r.success ? [] : r.error.issues.map((i) => i.message)
    }
    assert.match(issues({ origins: '*', credentials: true })[0]!, /cannot be combined with credentials/)
    assert.match(issues({ origins: ['https://a.com/x'] })[0]!, /no path/)
  })
})
