/**
 * Health checks live as long as their runtime: a reload with the same
 * targets and checks keeps a down target down (the new checker reads the
 * verdicts kept in the store) and probing goes on at one probe per interval;
 * after close no probe is sent.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { validateConfig } from '../../src/config/load.ts'
import { startFaultOrigin } from '../helpers/fault-origin.ts'
import { startGateway } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'
import { HealthEvents, healthConfig } from './events.ts'

const INTERVAL = 300
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('reload keeps verdicts and one prober; close stops probing', async (t) => {
  const events = new HealthEvents(t)
  const a = await startFaultOrigin({ t, name: 'a' })
  const b = await startFaultOrigin({ t, name: 'b' })
  b.setFor('/healthz', { mode: 'error' })
  const input = healthConfig([a.url, b.url], {
    active: {
      path: '/healthz',
      interval: `${INTERVAL}ms`,
      timeout: '280ms',
      unhealthyThreshold: 3,
      healthyThreshold: 3,
    },
  })
  const down = events.next(b.url, 'down')
  const gw = await startGateway(input, { t })
  await down
  // Between two probes, so the verdict just published has reached every subscriber.
  await sleep(INTERVAL / 4)

  const loaded = validateConfig({ listen: [{ address: '127.0.0.1:0' }], ...input })
  assert.ok(loaded.ok)
  await gw.gw.reload(loaded.config)
  // The new runtime's checker takes the kept verdict before its first probe
  // (three failed probes, 400 ms at least, would be needed without it).
  const bodies: string[] = []
  for (let i = 0; i < 6; i++) bodies.push((await get(gw.url)).body)
  assert.deepEqual(bodies, ['a', 'a', 'a', 'a', 'a', 'a'])

  const from = a.count('/healthz')
  const started = performance.now()
  await sleep(10 * INTERVAL)
  const probes = a.count('/healthz') - from
  const intervals = (performance.now() - started) / INTERVAL
  assert.ok(
    probes >= 1 && probes <= intervals * 1.3 + 1,
    `${probes} probes in ${intervals} intervals after a reload`,
  )

  await gw.close()
  const closed = a.count('/healthz')
  await sleep(4 * INTERVAL)
  assert.equal(a.count('/healthz'), closed)
})
