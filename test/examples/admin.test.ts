/**
 * examples/admin.yaml does what its comments say: with its two targets
 * moved to origins on 127.0.0.1, the probes answer, the token is required,
 * /metrics counts the traffic, and draining the second target sends every
 * request to the first until /readyz fails with both drained (the upstream
 * is `required`).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import type { GatewayConfig } from '../../src/config/schema.ts'
import { createGateway } from '../../src/server/gateway.ts'
import { scrapeUntil, value } from '../admin/prom.ts'
import { startOrigin } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'

const file = join(import.meta.dirname, '..', '..', 'examples', 'admin.yaml')
const TOKEN = 'example-admin-token-0123456789'

describe('examples/admin.yaml', () => {
  it('probes, token, metrics, drain and readiness', { timeout: 30_000 }, async (t) => {
    const loaded = await loadConfig(file, { ...process.env, ADMIN_TOKEN: TOKEN })
    assert.ok(loaded.ok, 'admin.yaml loads')
    const config: GatewayConfig = structuredClone(loaded.config)
    assert.deepEqual(config.admin?.address, { host: '127.0.0.1', port: 9901 })
    config.listen = [{ address: { host: '127.0.0.1', port: 0 } }]
    config.admin!.address = { host: '127.0.0.1', port: 0 }
    const [a, b] = [
      await startOrigin((_q, r) => r.end('a'), { t }),
      await startOrigin((_q, r) => r.end('b'), { t }),
    ]
    config.upstreams.api!.targets[0]!.url = a!.url
    config.upstreams.api!.targets[1]!.url = b!.url
    const gw = await createGateway(config)
    t.after(() => gw.close({ drainTimeout: 0 }))
    await gw.listen()
    const url = `http://127.0.0.1:${gw.addresses()[0]!.port}`
    const admin = `http://127.0.0.1:${gw.admin!.server!.address().port}`
    const auth = { authorization: `Bearer ${TOKEN}` }

    assert.equal((await fetch(`${admin}/readyz`)).status, 200)
    assert.equal((await fetch(`${admin}/api/upstreams`)).status, 401)
    const bodies: string[] = []
    for (let i = 0; i < 6; i++) bodies.push((await get(`${url}/api`)).body)
    assert.deepEqual(bodies.sort(), ['a', 'a', 'a', 'a', 'b', 'b'], 'weight 2 : 1')
    assert.equal((await get(`${url}/`)).body, 'hello from portcullis\n')
    const s = await scrapeUntil(admin, (s) => value(s, 'portcullis_requests_total') === 7, TOKEN)
    assert.equal(value(s, 'portcullis_requests_total', { route: 'api', status_class: '2xx' }), 6)
    assert.equal(value(s, 'portcullis_requests_total', { route: 'hello', status_class: '2xx' }), 1)

    const drain = (target: string) =>
      fetch(`${admin}/api/upstreams/api/drain`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ target }),
      })
    assert.equal((await drain(b!.url)).status, 200)
    for (let i = 0; i < 4; i++) assert.equal((await get(`${url}/api`)).body, 'a')
    assert.equal((await fetch(`${admin}/readyz`)).status, 200)
    assert.equal((await drain(a!.url)).status, 200)
    const ready = await fetch(`${admin}/readyz`)
    assert.equal(ready.status, 503)
    assert.deepEqual(await ready.json(), { ready: false, reasons: ['upstream api has no available target'] })
  })
})
