/**
 * Active health checks over real sockets with the fault origin: HTTP probes
 * mark a target down after `unhealthyThreshold` failed probes and up after
 * `healthyThreshold` good ones, traffic follows; a body that must match;
 * TCP probes; every target down gives 503 NO_HEALTHY_TARGET, panic mode
 * routes to all instead.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startFaultOrigin } from '../helpers/fault-origin.ts'
import { startGateway } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'
import { HealthEvents, healthConfig } from './events.ts'

// Short enough for a quick test, a timeout long enough for a loaded 2-core machine.
const fast = { interval: '400ms', timeout: '380ms', jitter: '20ms' }

async function bodies(url: string, n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push((await get(url)).body)
  return out
}

test('http checks: down after unhealthyThreshold failures, traffic avoids it, up after healthyThreshold', async (t) => {
  const events = new HealthEvents(t)
  const a = await startFaultOrigin({ t, name: 'a' })
  const b = await startFaultOrigin({ t, name: 'b' })
  const gw = await startGateway(
    healthConfig([a.url, b.url], {
      active: { path: '/healthz', healthyThreshold: 2, unhealthyThreshold: 3, ...fast },
    }),
    { t },
  )
  assert.deepEqual((await bodies(gw.url, 4)).sort(), ['a', 'a', 'b', 'b'])

  const down = events.next(b.url, 'down')
  b.setFor('/healthz', { mode: 'error', status: 500 })
  const before = b.count('/healthz')
  const d = await down
  assert.equal(d.healthy, false)
  assert.equal(d.reason, 'status 500')
  assert.ok(b.count('/healthz') - before >= 3, `marked down after ${b.count('/healthz') - before} probes`)
  assert.deepEqual(await bodies(gw.url, 6), ['a', 'a', 'a', 'a', 'a', 'a'])

  const up = events.next(b.url, 'up')
  const failing = b.count('/healthz')
  b.setFor('/healthz', undefined)
  await up
  assert.ok(b.count('/healthz') - failing >= 2)
  assert.deepEqual((await bodies(gw.url, 4)).sort(), ['a', 'a', 'b', 'b'])
  assert.equal(a.stats.errors, 0)
})

test('http checks: the body must contain the configured string', async (t) => {
  const events = new HealthEvents(t)
  const a = await startFaultOrigin({ t, name: 'a' })
  const b = await startFaultOrigin({ t, name: 'b' })
  a.setFor('/ready', { mode: 'ok', body: 'status: ready' })
  b.setFor('/ready', { mode: 'ok', body: 'status: starting' })
  const down = events.next(b.url, 'down')
  const gw = await startGateway(
    healthConfig([a.url, b.url], {
      active: { path: '/ready', body: 'ready', unhealthyThreshold: 2, ...fast },
    }),
    { t },
  )
  assert.equal((await down).reason, 'body did not match')
  assert.deepEqual(await bodies(gw.url, 4), ['a', 'a', 'a', 'a'])
  assert.equal(events.all.filter((e) => e.target === a.url).length, 0)
})

test('tcp checks: a refused port is down, listening again is up', async (t) => {
  const events = new HealthEvents(t)
  const a = await startFaultOrigin({ t, name: 'a' })
  const b = await startFaultOrigin({ t, name: 'b' })
  const gw = await startGateway(
    healthConfig([a.url, b.url], {
      active: { type: 'tcp', unhealthyThreshold: 2, healthyThreshold: 1, ...fast },
    }),
    { t },
  )
  const down = events.next(b.url, 'down')
  await b.set('refuse')
  assert.equal((await down).reason, 'ECONNREFUSED')
  assert.deepEqual(await bodies(gw.url, 4), ['a', 'a', 'a', 'a'])
  const up = events.next(b.url, 'up')
  await b.set('ok')
  assert.equal((await up).reason, 'connected')
  // TCP probes connect and send nothing; no traffic reached b while it was down.
  assert.equal(b.stats.requests, 0)
  assert.ok(b.stats.connections >= 1) // the probe that found it up
})

test('every target down: 503 NO_HEALTHY_TARGET; with panicThreshold, traffic goes to all', async (t) => {
  const events = new HealthEvents(t)
  const a = await startFaultOrigin({ t, name: 'a' })
  const b = await startFaultOrigin({ t, name: 'b' })
  for (const o of [a, b]) o.setFor('/healthz', { mode: 'error' })
  const downs = Promise.all([events.next(a.url, 'down'), events.next(b.url, 'down')])
  const gw = await startGateway(
    healthConfig([a.url, b.url], { active: { path: '/healthz', unhealthyThreshold: 1, ...fast } }),
    { t },
  )
  await downs
  const res = await get(gw.url, { accept: 'application/json' })
  assert.equal(res.status, 503)
  assert.equal(JSON.parse(res.body).error.code, 'NO_HEALTHY_TARGET')

  const panicEvents = new HealthEvents(t)
  const panic = new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (panicEvents.all.filter((e) => e.event === 'down').length >= 2) {
        clearInterval(check)
        resolve()
      }
    }, 20)
  })
  const gw2 = await startGateway(
    healthConfig([a.url, b.url], {
      active: { path: '/healthz', unhealthyThreshold: 1, ...fast },
      panicThreshold: 50,
    }),
    { t },
  )
  await panic
  assert.ok(panicEvents.all.some((e) => e.event === 'panic' && e.panic))
  assert.deepEqual((await bodies(gw2.url, 4)).sort(), ['a', 'a', 'b', 'b'])
})
