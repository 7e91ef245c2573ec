/**
 * A scenario with measured outcomes (reported with t.diagnostic): one of
 * three targets is killed under load (its port closed, its open connections
 * destroyed). With retries on, requests that were in flight on it are reset
 * before any response byte and retried elsewhere, new connects to it are
 * refused and retried, and its breaker opens after `minRequests` tries, so
 * the clients see no error. The breaker measures a ratio over its window, so
 * c's successes before the kill delay its opening (outlier detection's
 * consecutive failures, src/upstream/health, eject sooner).
 */
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import http from 'node:http'
import { test } from 'node:test'
import { startFaultOrigin } from '../helpers/fault-origin.ts'
import { startGateway } from '../helpers/gateway.ts'
import { resilienceConfig, TryCounter, upstreamOf } from './helpers.ts'

function get(url: string, agent: http.Agent): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode!))
      res.on('error', () => resolve(-1))
    })
    req.setTimeout(10_000, () => req.destroy())
    req.on('error', () => resolve(-1))
  })
}

test('one of three targets killed under load: no client-visible error, its breaker opens', async (t) => {
  const origins = await Promise.all(['a', 'b', 'c'].map((name) => startFaultOrigin({ t, name })))
  for (const o of origins) await o.set({ mode: 'slow', delayMs: 5 }) // requests overlap the kill
  const [, , victim] = origins as [unknown, unknown, (typeof origins)[number]]
  const tries = new TryCounter(t)
  const gw = await startGateway(
    resilienceConfig(
      origins.map((o) => o.url),
      {
        retries: { attempts: 3, on: ['reset', 502, 503, 504], backoff: { base: '5ms', max: '20ms' } },
        circuitBreaker: { minRequests: 5, failureRatio: 0.5, window: '10s', openFor: '30s' },
      },
    ),
    { t },
  )
  // Where the try log stood when c's breaker opened.
  let triesAtOpen = -1
  const onCircuit = (m: unknown) => {
    const e = m as { target: string; state: string }
    if (e.target === victim.url && e.state === 'open' && triesAtOpen < 0) triesAtOpen = tries.tries.length
  }
  diagnostics.subscribe('portcullis:upstream:circuit', onCircuit)
  t.after(() => diagnostics.unsubscribe('portcullis:upstream:circuit', onCircuit))
  const agent = new http.Agent({ keepAlive: true, maxSockets: 20 })
  t.after(() => agent.destroy())
  const total = 900
  const concurrency = 20
  const statuses = new Map<number, number>()
  let sent = 0
  let killedAt = -1
  let inFlightAtKill = 0
  let inFlight = 0
  async function worker(): Promise<void> {
    while (sent < total) {
      sent++
      if (sent === total / 3) {
        killedAt = sent
        inFlightAtKill = inFlight
        void victim.set('refuse')
      }
      inFlight++
      const s = await get(gw.url, agent)
      inFlight--
      statuses.set(s, (statuses.get(s) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))

  const mine = tries.tries.filter((m) => m.gateway === gw.gw)
  const victimFailures = mine.filter((m) => m.target === victim.url && m.code !== undefined)
  const afterOpen = tries.tries
    .slice(triesAtOpen)
    .filter((m) => m.gateway === gw.gw && m.target === victim.url)
  const breaker = upstreamOf(gw).targets[2]!.breaker!
  const errors = total - (statuses.get(200) ?? 0)
  t.diagnostic(
    `${total} GETs, ${concurrency} at a time, target c killed at request ${killedAt} ` +
      `(${inFlightAtKill} in flight): client-visible errors ${errors}, statuses ${JSON.stringify([...statuses])}; ` +
      `${victimFailures.length} failed tries on c (${[...new Set(victimFailures.map((m) => m.code))].join(', ')}), ` +
      `breaker ${breaker.state} with ${breaker.toJSON().failures} failures of ${breaker.toJSON().tries} tries in its window ` +
      `(the successes before the kill count: failureRatio 0.5); ${afterOpen.length} tries on c ended after it opened; ` +
      `${mine.length} upstream tries in all`,
  )
  assert.equal(errors, 0)
  assert.equal(breaker.state, 'open')
  assert.ok(triesAtOpen >= 0)
  assert.ok(afterOpen.length <= concurrency, 'only tries under way when it opened ended on c afterwards')
})
