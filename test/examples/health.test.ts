/**
 * examples/health.yaml does what its comments say, with its three targets
 * replaced by fault origins and the probe interval shortened (5 s would make
 * a slow test): a copy whose /healthz fails is marked down and gets no
 * requests; a copy refusing connections is ejected after 3 failed requests;
 * with two of three out, panic mode sends requests to all three again.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import type { GatewayConfig } from '../../src/config/schema.ts'
import { startFaultOrigin } from '../helpers/fault-origin.ts'
import { startGateway } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'
import { HealthEvents } from '../health/events.ts'

const file = join(import.meta.dirname, '..', '..', 'examples', 'health.yaml')

test('examples/health.yaml: down by probe, ejected by failures, panic with two of three out', async (t) => {
  const loaded = await loadConfig(file, process.env)
  assert.ok(loaded.ok, 'examples/health.yaml loads')
  const config: GatewayConfig = structuredClone(loaded.config)
  const origins = await Promise.all(['a', 'b', 'c'].map((name) => startFaultOrigin({ t, name })))
  const [a, b, c] = origins as [(typeof origins)[0], (typeof origins)[0], (typeof origins)[0]]
  for (const o of origins) o.setFor('/healthz', { mode: 'ok', body: 'ok' })
  config.listen = [{ address: { host: '127.0.0.1', port: 0 } }]
  const api = config.upstreams.api!
  api.targets = origins.map((o) => ({ url: o.url, weight: 1 }))
  Object.assign(api.health!.active!, { interval: 500, timeout: 480, jitter: 20 })
  const events = new HealthEvents(t)
  const gw = await startGateway(config, { t })

  const down = events.next(b.url, 'down')
  b.setFor('/healthz', { mode: 'ok', body: 'starting' })
  assert.equal((await down).reason, 'body did not match')
  const seen = new Set<string>()
  for (let i = 0; i < 6; i++) seen.add((await get(`${gw.url}/x`)).body)
  assert.deepEqual([...seen].sort(), ['a', 'c'])

  const ejected = events.next(c.url, 'ejected')
  const panic = events.next(c.url, 'panic')
  await c.set({ mode: 'error', status: 500 })
  for (let i = 0; i < 8; i++) await get(`${gw.url}/x`)
  assert.match((await ejected).reason, /^3 failures in a row/)
  await panic // 1 of 3 usable < 50%: every copy takes requests again
  const before = b.stats.requests
  for (let i = 0; i < 6; i++) await get(`${gw.url}/x`)
  assert.ok(b.stats.requests - before >= 1, 'b (down) takes requests in panic mode')
  assert.ok(a.stats.ok > 0)
})
