/**
 * Circuit breakers and resource limits over real sockets with the fault
 * origin: a failing target's breaker opens, traffic avoids it, probes go
 * through once it is half-open and close it when they succeed; an upstream
 * whose every breaker is open answers 503 CIRCUIT_OPEN without trying; each
 * tripped limit answers 503 with its own code at once; the retry budget caps
 * upstream attempts when a whole cluster is dead (the counts are reported).
 */
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import { test } from 'node:test'
import type { CircuitStateMessage } from '../../src/observe/channels.ts'
import { startFaultOrigin } from '../helpers/fault-origin.ts'
import { startGateway, waitFor } from '../helpers/gateway.ts'
import { resilienceConfig, send, TryCounter, upstreamOf } from './helpers.ts'

/** CircuitEvents records `portcullis:upstream:circuit` messages while the test runs. */
function circuitEvents(t: { after(fn: () => unknown): void }): CircuitStateMessage[] {
  const seen: CircuitStateMessage[] = []
  const on = (m: unknown) => void seen.push(m as CircuitStateMessage)
  diagnostics.subscribe('portcullis:upstream:circuit', on)
  t.after(() => diagnostics.unsubscribe('portcullis:upstream:circuit', on))
  return seen
}

const breaker = { minRequests: 4, failureRatio: 0.5, window: '10s', openFor: '1s', halfOpenRequests: 1 }

test('a breaker opens on failures, traffic avoids the target, half-open probes close it again', async (t) => {
  const events = circuitEvents(t)
  const a = await startFaultOrigin({ t, name: 'a' })
  const b = await startFaultOrigin({ t, name: 'b' })
  await a.set({ mode: 'error', status: 503 })
  const gw = await startGateway(resilienceConfig([a.url, b.url], { circuitBreaker: breaker }), { t })
  const target = upstreamOf(gw).targets[0]!
  const first: number[] = []
  for (let i = 0; i < 8; i++) first.push((await send(gw.url)).status)
  assert.deepEqual(first, [503, 200, 503, 200, 503, 200, 503, 200], 'four failures on a open its breaker')
  assert.equal(target.breaker!.state, 'open')
  const mine = () => events.filter((e) => e.target === a.url).map((e) => e.state)
  assert.deepEqual(mine(), ['open'])

  // While open (checked against its own clock: a loaded machine may be slow), only b answers.
  for (let i = 0; i < 6; i++) {
    const body = (await send(gw.url)).body
    if (performance.now() < target.breaker!.openUntil) assert.equal(body, 'b')
  }

  await a.set('ok')
  await waitFor(() => target.breaker!.state === 'half-open', 'half-open after openFor', 5000)
  const after: string[] = []
  for (let i = 0; i < 6; i++) after.push((await send(gw.url)).body)
  assert.equal(target.breaker!.state, 'closed')
  assert.ok(after.filter((x) => x === 'a').length >= 2, `a serves again: ${after.join(' ')}`)
  assert.deepEqual(mine().slice(0, 3), ['open', 'half-open', 'half-open'])
  assert.equal(mine().at(-1), 'closed')
})

test('every breaker open: 503 CIRCUIT_OPEN without a try', async (t) => {
  const a = await startFaultOrigin({ t, name: 'a' })
  await a.set({ mode: 'error', status: 502 })
  const gw = await startGateway(
    resilienceConfig([a.url], { circuitBreaker: { ...breaker, openFor: '1m' } }),
    {
      t,
    },
  )
  for (let i = 0; i < 4; i++) assert.equal((await send(gw.url)).status, 502)
  const r = await send(gw.url)
  assert.equal(r.status, 503)
  assert.match(r.body, /CIRCUIT_OPEN/)
  assert.equal(a.stats.requests, 4)
})

/** slowFirst starts a request the origin holds, and waits until the origin has it. */
async function slowFirst(url: string, seen: () => number) {
  let done = false
  const pending = send(url).then((r) => ((done = true), r))
  await waitFor(() => seen() === 1, 'the first request reached the origin')
  return { pending, done: () => done }
}

test('limits.maxRequests: one more request gets 503 UPSTREAM_OVERFLOW_REQUESTS at once', async (t) => {
  const a = await startFaultOrigin({ t, name: 'a' })
  await a.set({ mode: 'slow', delayMs: 1500 })
  const overflows: unknown[] = []
  const onOverflow = (m: unknown) => void overflows.push(m)
  diagnostics.subscribe('portcullis:upstream:overflow', onOverflow)
  t.after(() => diagnostics.unsubscribe('portcullis:upstream:overflow', onOverflow))
  const gw = await startGateway(resilienceConfig([a.url], { limits: { maxRequests: 1 } }), { t })
  const first = await slowFirst(gw.url, () => a.stats.requests)
  const r = await send(gw.url)
  assert.equal(r.status, 503)
  assert.match(r.body, /UPSTREAM_OVERFLOW_REQUESTS/)
  assert.equal(first.done(), false, 'answered while the first request was still in progress')
  assert.equal((await first.pending).status, 200)
  assert.equal(upstreamOf(gw).limits.overflow.requests, 1)
  assert.equal(upstreamOf(gw).limits.requests, 0)
  assert.deepEqual(overflows, [{ upstream: 'origin', limit: 'requests', count: 1 }])
})

test('limits.maxPending: a request that would wait beyond it gets 503 UPSTREAM_OVERFLOW_PENDING at once', async (t) => {
  const a = await startFaultOrigin({ t, name: 'a' })
  await a.set({ mode: 'slow', delayMs: 1500 })
  const gw = await startGateway(
    resilienceConfig([a.url], { pool: { maxConnections: 1 }, limits: { maxPending: 1 } }),
    { t },
  )
  const first = await slowFirst(gw.url, () => a.stats.requests)
  const waiting = send(gw.url) // waits for the one connection: pending 1
  await waitFor(() => upstreamOf(gw).limits.pending === 1, 'one request pending')
  const r = await send(gw.url)
  assert.equal(r.status, 503)
  assert.match(r.body, /UPSTREAM_OVERFLOW_PENDING/)
  assert.equal(first.done(), false)
  assert.deepEqual([(await first.pending).status, (await waiting).status], [200, 200])
  const { overflow, pending } = upstreamOf(gw).limits
  assert.equal(overflow.pending, 1)
  assert.equal(overflow.connections, 2, 'two requests found the connection busy')
  assert.equal(pending, 0)
})

test('limits.maxRetries: 0 answers the failure instead of retrying, and counts it', async (t) => {
  const dead = await startFaultOrigin({ t, name: 'dead' })
  const live = await startFaultOrigin({ t, name: 'live' })
  await dead.set('refuse')
  const gw = await startGateway(
    resilienceConfig([dead.url, live.url], { retries: { attempts: 3 }, limits: { maxRetries: 0 } }),
    { t },
  )
  const statuses = [(await send(gw.url)).status, (await send(gw.url)).status].sort()
  assert.deepEqual(statuses, [200, 502])
  assert.equal(upstreamOf(gw).limits.overflow.retries, 1)
})

test('a dead cluster under concurrent requests: the retry budget caps upstream attempts', async (t) => {
  const origins = await Promise.all(['a', 'b', 'c'].map((name) => startFaultOrigin({ t, name })))
  for (const o of origins) await o.set('refuse')
  const urls = origins.map((o) => o.url)
  const tries = new TryCounter(t)
  const n = 60
  const retries = { attempts: 3, backoff: { base: '20ms', max: '80ms' } }

  async function attemptsWith(extra: Record<string, unknown>) {
    const gw = await startGateway(resilienceConfig(urls, { retries: { ...retries, ...extra } }), { t })
    const answers = await Promise.all(Array.from({ length: n }, () => send(gw.url)))
    assert.ok(answers.every((r) => r.status === 502))
    return {
      attempts: tries.tries.filter((m) => m.gateway === gw.gw).length,
      refused: upstreamOf(gw).limits.overflow.retries,
    }
  }
  const unbudgeted = await attemptsWith({})
  const budgeted = await attemptsWith({ budget: { percent: 20, min: 3 } })
  t.diagnostic(
    `${n} concurrent requests, attempts 3: ${unbudgeted.attempts} upstream attempts without a budget, ` +
      `${budgeted.attempts} with budget 20% / min 3 (${budgeted.refused} retries refused)`,
  )
  assert.equal(unbudgeted.attempts, n * 3)
  assert.ok(budgeted.attempts < unbudgeted.attempts, `${budgeted.attempts} < ${unbudgeted.attempts}`)
  assert.ok(budgeted.refused > 0)
})
