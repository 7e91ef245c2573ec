/**
 * examples/resilience.yaml does what its comments say, with its two targets
 * replaced by fault origins: with one copy refusing connections every GET and
 * every POST /orders is answered by the other, a POST elsewhere after a reset
 * is not retried, and with both copies answering 503 their breakers open
 * and the gateway answers 503 CIRCUIT_OPEN without trying.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import type { GatewayConfig } from '../../src/config/schema.ts'
import { startFaultOrigin } from '../helpers/fault-origin.ts'
import { startGateway } from '../helpers/gateway.ts'
import { send, startResettingOrigin } from '../resilience/helpers.ts'

const file = join(import.meta.dirname, '..', '..', 'examples', 'resilience.yaml')

async function exampleWith(targets: string[]): Promise<GatewayConfig> {
  const loaded = await loadConfig(file, process.env)
  assert.ok(loaded.ok, 'examples/resilience.yaml loads')
  const config = structuredClone(loaded.config)
  config.listen = [{ address: { host: '127.0.0.1', port: 0 } }]
  config.upstreams.api!.targets = targets.map((url) => ({ url, weight: 1 }))
  return config
}

test('examples/resilience.yaml: refused connects retried, unsafe methods only on /orders, breakers open', async (t) => {
  const dead = await startFaultOrigin({ t, name: 'dead' })
  const live = await startFaultOrigin({ t, name: 'live' })
  await dead.set('refuse')
  const gw = await startGateway(await exampleWith([dead.url, live.url]), { t })
  for (let i = 0; i < 4; i++) assert.equal((await send(gw.url, 'GET', undefined, '/items')).body, 'live')
  for (let i = 0; i < 2; i++) assert.equal((await send(gw.url, 'POST', '{}', '/orders')).status, 200)

  const resetting = await startResettingOrigin(t)
  const gw2 = await startGateway(await exampleWith([resetting.url, live.url]), { t })
  const elsewhere = [await send(gw2.url, 'POST', '{}', '/items'), await send(gw2.url, 'POST', '{}', '/items')]
  assert.deepEqual(elsewhere.map((r) => r.status).sort(), [200, 502], 'POST outside /orders is not retried')
  const orders = [await send(gw2.url, 'POST', '{}', '/orders'), await send(gw2.url, 'POST', '{}', '/orders')]
  assert.deepEqual(
    orders.map((r) => r.status),
    [200, 200],
  )

  const a = await startFaultOrigin({ t, name: 'a' })
  const b = await startFaultOrigin({ t, name: 'b' })
  await a.set({ mode: 'error', status: 503 })
  await b.set({ mode: 'error', status: 503 })
  const gw3 = await startGateway(await exampleWith([a.url, b.url]), { t })
  const statuses: number[] = []
  for (let i = 0; i < 12; i++) statuses.push((await send(gw3.url, 'GET', undefined, '/items')).status)
  assert.ok(statuses.every((s) => s === 503))
  const seen = a.stats.requests + b.stats.requests
  const r = await send(gw3.url, 'GET', undefined, '/items')
  assert.equal(r.status, 503)
  assert.match(r.body, /CIRCUIT_OPEN/)
  assert.equal(a.stats.requests + b.stats.requests, seen, 'no try once both breakers are open')
})
