/**
 * Passive health checks (outlier detection) over real sockets with the
 * fault origin: a killed target is ejected after exactly the configured
 * failures in a row; ejections grow; the maximum ejection percentage holds;
 * every target ejected gives 503 NO_HEALTHY_TARGET; panic mode routes to all.
 */
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import { test } from 'node:test'
import type { UpstreamTryMessage } from '../../src/observe/channels.ts'
import { startFaultOrigin } from '../helpers/fault-origin.ts'
import { startGateway } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'
import { HealthEvents, healthConfig } from './events.ts'

/** drive sends `n` requests one after another and returns their statuses (-1: no answer). */
async function drive(url: string, n: number, accept = 'text/plain'): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++)
    out.push(
      await get(url, { accept }).then(
        (r) => r.status,
        () => -1,
      ),
    )
  return out
}

/** failedTries counts, per target origin, the tries that failed (an error code or a 5xx) while it lives. */
function failedTries(t: { after(fn: () => unknown): void }): Map<string, number> {
  const counts = new Map<string, number>()
  const onTry = (m: unknown) => {
    const { target, code, status } = m as UpstreamTryMessage
    if (code !== undefined || status >= 500) counts.set(target, (counts.get(target) ?? 0) + 1)
  }
  diagnostics.subscribe('portcullis:upstream:try', onTry)
  t.after(() => diagnostics.unsubscribe('portcullis:upstream:try', onTry))
  return counts
}

test('a killed target is ejected after exactly consecutiveFailures failed tries, and traffic avoids it', async (t) => {
  const events = new HealthEvents(t)
  const a = await startFaultOrigin({ t, name: 'a' })
  const b = await startFaultOrigin({ t, name: 'b' })
  const gw = await startGateway(
    healthConfig([a.url, b.url], { passive: { consecutiveFailures: 3, baseEjectionTime: '30s' } }),
    { t },
  )
  assert.deepEqual(await drive(gw.url, 4), [200, 200, 200, 200])
  const failed = failedTries(t)
  const ejected = events.next(b.url, 'ejected')
  await b.set('refuse')
  await drive(gw.url, 12)
  const e = await ejected
  assert.equal(failed.get(b.url), 3)
  assert.equal(e.ejections, 1)
  assert.match(e.reason, /^3 failures in a row \(last: UPSTREAM_CONNECT_REFUSED\)$/)
  const served = a.stats.requests
  assert.deepEqual(await drive(gw.url, 6), [200, 200, 200, 200, 200, 200])
  assert.equal(a.stats.requests - served, 6)
  assert.equal(failed.get(b.url), 3)
})

test('ejections grow (base x n) and a target returns when its time is over', async (t) => {
  const events = new HealthEvents(t)
  const a = await startFaultOrigin({ t, name: 'a' })
  const b = await startFaultOrigin({ t, name: 'b' })
  await b.set({ mode: 'error', status: 500 })
  const gw = await startGateway(
    healthConfig([a.url, b.url], {
      passive: { consecutiveFailures: 2, baseEjectionTime: '300ms', maxEjectionTime: '10s' },
    }),
    { t },
  )
  const durations: number[] = []
  for (let n = 1; n <= 3; n++) {
    const ejected = events.next(b.url, 'ejected')
    const returned = events.next(b.url, 'returned')
    await drive(gw.url, 6)
    const e = await ejected
    durations.push(e.ejectedUntil - events.at.get(e)!)
    assert.equal(e.ejections, n)
    const r = await returned
    assert.equal(r.ejectedUntil, 0)
  }
  // 300, 600, 900 ms, less the moment between the ejection and its event.
  const [d1, d2, d3] = durations as [number, number, number]
  assert.ok(d1 > 250 && d1 <= 300 && d2 > 550 && d2 <= 600 && d3 > 850 && d3 <= 900, `${durations}`)
})

test('maxEjectionPercent: with 3 failing targets and 50%, one is ejected; with 100%, all, then 503 NO_HEALTHY_TARGET', async (t) => {
  const origins = await Promise.all(['a', 'b', 'c'].map((name) => startFaultOrigin({ t, name })))
  for (const o of origins) await o.set({ mode: 'error', status: 502 })
  const urls = origins.map((o) => o.url)
  const events = new HealthEvents(t)
  const half = await startGateway(
    healthConfig(urls, { passive: { consecutiveFailures: 2, maxEjectionPercent: 50 } }),
    {
      t,
    },
  )
  await drive(half.url, 30)
  assert.equal(events.all.filter((e) => e.event === 'ejected').length, 1)
  await half.close()

  const all = new HealthEvents(t)
  const full = await startGateway(
    healthConfig(urls, { passive: { consecutiveFailures: 2, maxEjectionPercent: 100 } }),
    { t },
  )
  const statuses = await drive(full.url, 8, 'application/json')
  assert.equal(all.all.filter((e) => e.event === 'ejected').length, 3)
  assert.deepEqual(statuses.slice(6), [503, 503])
  const res = await get(full.url, { accept: 'application/json' })
  assert.equal(JSON.parse(res.body).error.code, 'NO_HEALTHY_TARGET')
})

test('panic mode: below panicThreshold healthy, traffic goes to every target', async (t) => {
  const events = new HealthEvents(t)
  const a = await startFaultOrigin({ t, name: 'a' })
  const b = await startFaultOrigin({ t, name: 'b' })
  await b.set({ mode: 'error', status: 503 })
  const panic = events.next(b.url, 'panic')
  const gw = await startGateway(
    healthConfig([a.url, b.url], {
      passive: { consecutiveFailures: 2, maxEjectionPercent: 100 },
      panicThreshold: 60,
    }),
    { t },
  )
  await drive(gw.url, 4)
  const p = await panic
  assert.equal(p.panic, true)
  assert.equal(events.all.filter((e) => e.event === 'ejected').length, 1)
  const before = b.stats.requests
  const statuses = await drive(gw.url, 4)
  assert.equal(b.stats.requests - before, 2) // b still gets its share while the upstream panics
  assert.deepEqual(statuses.sort(), [200, 200, 503, 503])
})
