/**
 * auth.forward over real sockets with a real auth service: 2xx passes and
 * its chosen headers go upstream (a client's forged ones removed), 401 and
 * 403 reach the client, decisions are cached for the configured time per
 * request and credentials, a hanging service is 503 within the timeout.
 */
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { proxyConfig, startGateway, startOrigin, type OriginHandle } from '../../../test/helpers/gateway.ts'
import { get } from '../../../test/helpers/http-get.ts'

interface AuthService {
  url: string
  asked: { authorization?: string; uri?: string; method?: string }[]
  hang: boolean
}

async function startAuthService(t: TestContext): Promise<AuthService> {
  const state: AuthService = { url: '', asked: [], hang: false }
  const service = await startOrigin(
    (req, res) => {
      if (state.hang) return
      const authorization = req.headers.authorization
      const uri = String(req.headers['x-forwarded-uri'])
      state.asked.push({ authorization, uri, method: String(req.headers['x-forwarded-method']) })
      if (authorization === 'Bearer good') {
        if (uri.startsWith('/admin')) res.writeHead(403).end()
        else res.writeHead(200, { 'x-user-id': 'ann', 'x-other': 'not copied' }).end()
      } else res.writeHead(401, { 'www-authenticate': 'Bearer realm="sso"' }).end()
    },
    { t },
  )
  state.url = `${service.url}/verify`
  return state
}

async function gateway(
  t: TestContext,
  forward: { url: string } & Record<string, unknown>,
): Promise<{ url: string; origin: OriginHandle }> {
  const origin = await startOrigin(undefined, { t })
  const gw = await startGateway(
    proxyConfig(origin.url, { routes: [{ match: {}, upstream: 'origin', auth: { forward } }] }),
    { t },
  )
  return { url: gw.url, origin }
}

describe('auth.forward', () => {
  it('passes on 2xx with the copied headers, passes 401 and 403 on', async (t) => {
    const service = await startAuthService(t)
    const { url, origin } = await gateway(t, { url: service.url, copy: ['x-user-id'] })
    const ok = await get(`${url}/items?q=1`, { authorization: 'Bearer good', 'x-user-id': 'mallory' })
    assert.equal(ok.status, 200)
    assert.equal(origin.requests[0]!.headers['x-user-id'], 'ann')
    assert.equal(origin.requests[0]!.headers['x-other'], undefined)
    assert.deepEqual(service.asked[0], { authorization: 'Bearer good', uri: '/items?q=1', method: 'GET' })
    const denied = await get(`${url}/items`, { authorization: 'Bearer bad', accept: 'application/json' })
    assert.equal(denied.status, 401)
    assert.equal(denied.headers['www-authenticate'], 'Bearer realm="sso"')
    assert.equal(JSON.parse(denied.body).error.code, 'UNAUTHENTICATED')
    assert.equal((await get(`${url}/admin`, { authorization: 'Bearer good' })).status, 403)
    assert.equal(origin.requests.length, 1)
  })

  it('caches decisions for the configured time, per request and credentials', async (t) => {
    const service = await startAuthService(t)
    const { url, origin } = await gateway(t, { url: service.url, copy: ['x-user-id'], cache: '300ms' })
    for (let i = 0; i < 3; i++)
      assert.equal((await get(`${url}/a`, { authorization: 'Bearer good' })).status, 200)
    assert.equal(service.asked.length, 1)
    assert.equal(origin.requests[2]!.headers['x-user-id'], 'ann') // copied from the cached decision
    for (let i = 0; i < 2; i++)
      assert.equal((await get(`${url}/a`, { authorization: 'Bearer bad' })).status, 401)
    assert.equal(service.asked.length, 2)
    assert.equal((await get(`${url}/admin`, { authorization: 'Bearer good' })).status, 403) // another path: asked
    assert.equal(service.asked.length, 3)
    await sleep(350)
    assert.equal((await get(`${url}/a`, { authorization: 'Bearer good' })).status, 200)
    assert.equal(service.asked.length, 4)
  })

  it('answers 503 within the timeout when the auth service hangs', async (t) => {
    const service = await startAuthService(t)
    service.hang = true
    const { url } = await gateway(t, { url: service.url, timeout: '200ms' })
    const t0 = performance.now()
    const res = await get(url, { authorization: 'Bearer good', accept: 'application/json' })
    assert.equal(res.status, 503)
    assert.equal(JSON.parse(res.body).error.code, 'AUTH_UNAVAILABLE')
    assert.ok(performance.now() - t0 < 1000)
  })
})
