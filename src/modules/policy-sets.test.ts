/**
 * Policy sets over real sockets: a `default` set guards every route that
 * names none, `policies: []` opts a route out, a route's own key wins, a
 * named set applies where named, a limit named by a set is one limit over
 * all its routes, and unknown names are configuration errors.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { proxyConfig, startGateway, startOrigin } from '../../test/helpers/gateway.ts'
import { get } from '../../test/helpers/http-get.ts'
import { configSchema } from '../config/schema.ts'

describe('policy sets', () => {
  it('apply default to every route, a named set where named, and yield to a route’s own keys', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const gw = await startGateway(
      proxyConfig(origin.url, {
        rateLimits: { site: { rate: '3/h', key: 'route', store: 'shared' } },
        policies: {
          default: { rateLimit: 'site', cors: { origins: ['https://app.example.com'] } },
          internal: { access: { allow: ['10.0.0.0/8'] } },
        },
        routes: [
          { name: 'a', match: { path: '/a' }, upstream: 'origin' },
          { name: 'b', match: { path: '/b' }, upstream: 'origin' },
          { name: 'own', match: { path: '/own' }, upstream: 'origin', cors: { origins: '*' } },
          { name: 'health', match: { path: '/health' }, upstream: 'origin', policies: [] },
          { name: 'admin', match: { path: '/admin' }, upstream: 'origin', policies: ['internal', 'default'] },
        ],
      }),
      { t },
    )
    const o = { origin: 'https://app.example.com' }
    const a = await get(`${gw.url}/a`, o)
    assert.equal(a.status, 200)
    assert.equal(a.headers['access-control-allow-origin'], 'https://app.example.com')
    const own = await get(`${gw.url}/own`, o)
    assert.equal(own.headers['access-control-allow-origin'], '*') // its own cors, the default's limit
    assert.equal((await get(`${gw.url}/b`)).status, 200)
    // `site` is keyed by route: a, own and b each have their own 3; exhaust b.
    for (let i = 0; i < 2; i++) assert.equal((await get(`${gw.url}/b`)).status, 200)
    assert.equal((await get(`${gw.url}/b`)).status, 429)
    for (let i = 0; i < 5; i++) assert.equal((await get(`${gw.url}/health`)).status, 200) // opted out
    assert.equal((await get(`${gw.url}/admin`)).status, 403) // internal's access list first
    const headers = (await get(`${gw.url}/health`, o)).headers
    assert.equal(headers['access-control-allow-origin'], undefined)
  })

  it('refuses unknown set names and unknown limits inside sets', () => {
    const r = configSchema.safeParse({
      policies: { s: { rateLimit: 'nope' } },
      routes: [{ match: {}, respond: {}, policies: ['s', 'missing'] }],
    })
    assert.equal(r.success, false)
    const messages = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
    assert.ok(
      messages.includes("routes.0.policies.1: unknown policy set 'missing' (not in policies)"),
      messages.join('\n'),
    )
    assert.ok(
      messages.includes("policies.s.rateLimit: unknown rate limit 'nope' (not in rateLimits)"),
      messages.join('\n'),
    )
  })
})
