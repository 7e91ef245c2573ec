/**
 * The policy examples serve what their comments promise: each file is
 * loaded as `portcullis start` loads it, its listener moved to port 0 and
 * its upstreams aimed at a local origin.
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import type { GatewayConfig } from '../../src/config/schema.ts'
import { createGateway } from '../../src/server/gateway.ts'
import { SignJWT } from 'jose'
import { startOrigin } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'

const examples = join(import.meta.dirname, '..', '..', 'examples')

/** serveExample starts examples/FILE aimed at a local origin; returns its base URL. */
export async function serveExample(
  file: string,
  t: TestContext,
  env: Record<string, string> = {},
  handler: Parameters<typeof startOrigin>[0] = (req, res) => res.end(String(req.headers['x-user-id'])),
  adjust?: (config: GatewayConfig) => void,
) {
  const origin = await startOrigin(handler, { t })
  const loaded = await loadConfig(join(examples, file), { ...process.env, ...env })
  assert.ok(loaded.ok, `${file} loads: ${JSON.stringify(!loaded.ok && loaded.problems)}`)
  const config: GatewayConfig = structuredClone(loaded.config)
  config.listen = [{ address: { host: '127.0.0.1', port: 0 } }]
  for (const u of Object.values(config.upstreams)) for (const target of u.targets) target.url = origin.url
  adjust?.(config)
  const gw = await createGateway(config)
  await gw.listen()
  t.after(() => gw.close({ drainTimeout: 0 }))
  return `http://127.0.0.1:${gw.addresses()[0]!.port}`
}

describe('policy examples', () => {
  it('rate-limits.yaml: one limit over /a and /b, and a route of its own', async (t) => {
    const url = await serveExample('rate-limits.yaml', t)
    const statuses = []
    for (const path of ['/a', '/b', '/a', '/b']) statuses.push((await get(url + path)).status)
    assert.deepEqual(statuses, [200, 200, 200, 429])
    const login = []
    for (let i = 0; i < 3; i++) login.push((await get(`${url}/login`, { 'x-user': 'ann' })).status)
    assert.deepEqual(login, [200, 200, 429])
    assert.equal((await get(`${url}/login`, { 'x-user': 'bob' })).status, 200)
  })

  it('jwt.yaml: 401 with a challenge without a token, the subject upstream with one', async (t) => {
    const secret = 'x'.repeat(40)
    const url = await serveExample('jwt.yaml', t, { JWT_SECRET: secret })
    const none = await get(`${url}/api/me`)
    assert.equal(none.status, 401)
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="portcullis"')
    const token = await new SignJWT({ sub: 'ann', iss: 'https://idp.example.com' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(secret))
    const ok = await get(`${url}/api/me`, { authorization: `Bearer ${token}` })
    assert.equal(ok.status, 200)
    assert.equal(ok.body, 'ann')
  })

  it('api-keys.yaml: the demo key passes, no key is 401', async (t) => {
    const url = await serveExample('api-keys.yaml', t)
    assert.equal((await get(`${url}/v1/items`, { 'x-api-key': 'demo-key-0123456789' })).status, 200)
    assert.equal((await get(`${url}/v1/items`)).status, 401)
  })

  it('basic-auth.yaml: admin with the demo password passes, others get the Basic challenge', async (t) => {
    const url = await serveExample('basic-auth.yaml', t)
    const auth = (p: string) => ({ authorization: `Basic ${Buffer.from(`admin:${p}`).toString('base64')}` })
    assert.equal((await get(`${url}/admin/`, auth('demo password'))).status, 200)
    const res = await get(`${url}/admin/`, auth('guess'))
    assert.equal(res.status, 401)
    assert.equal(res.headers['www-authenticate'], 'Basic realm="admin", charset="UTF-8"')
  })

  it('cors-access.yaml: a preflight answered for the app, /admin refused outside the office', async (t) => {
    const url = await serveExample('cors-access.yaml', t)
    const pre = await get(
      `${url}/api/x`,
      { origin: 'https://app.example.com', 'access-control-request-method': 'PUT' },
      { method: 'OPTIONS' },
    )
    assert.equal(pre.status, 204)
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com')
    assert.equal(pre.headers['access-control-allow-credentials'], 'true')
    assert.equal((await get(`${url}/admin/`)).status, 403) // 127.0.0.1 is not in the office range
  })

  it('concurrency.yaml: 2 at the origin, 4 waiting, the seventh refused at once', async (t) => {
    const held: http.ServerResponse[] = []
    const url = await serveExample('concurrency.yaml', t, {}, (_req, res) => void held.push(res))
    const seven = Array.from({ length: 7 }, () => get(`${url}/reports`))
    const first = await Promise.race(seven)
    assert.equal(first.status, 503)
    assert.equal(held.length, 2)
    while (held.length < 6) {
      for (const res of held) if (!res.writableEnded) res.end('ok')
      await new Promise((r) => setTimeout(r, 20))
    }
    for (const res of held) if (!res.writableEnded) res.end('ok')
    const statuses = (await Promise.all(seven)).map((r) => r.status).sort()
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 503])
  })

  it('forward-auth.yaml: the auth service decides, its x-user-id goes upstream', async (t) => {
    const service = await startOrigin(
      (req, res) => {
        if (req.headers.authorization === 'Bearer ok') res.writeHead(200, { 'x-user-id': 'ann' }).end()
        else res.writeHead(401, { 'www-authenticate': 'Bearer' }).end()
      },
      { t },
    )
    const url = await serveExample('forward-auth.yaml', t, {}, undefined, (config) => {
      config.routes[0]!.auth!.forward!.url = `${service.url}/verify`
    })
    assert.equal((await get(`${url}/app`)).status, 401)
    const ok = await get(`${url}/app`, { authorization: 'Bearer ok' })
    assert.equal(ok.status, 200)
    assert.equal(ok.body, 'ann')
  })

  it('policy-sets.yaml: the default set on /api, office-only /admin, /healthz free', async (t) => {
    const url = await serveExample('policy-sets.yaml', t)
    const api = await get(`${url}/api/x`, { origin: 'https://app.example.com' })
    assert.equal(api.status, 200)
    assert.equal(api.headers['access-control-allow-origin'], 'https://app.example.com')
    assert.equal((await get(`${url}/admin/`)).status, 403)
    for (let i = 0; i < 6; i++) assert.equal((await get(`${url}/healthz`)).status, 200)
    const statuses = []
    for (let i = 0; i < 5; i++) statuses.push((await get(`${url}/api/x`)).status)
    assert.deepEqual(statuses, [200, 200, 200, 200, 429]) // 5 a minute, the first one above included
  })
})
