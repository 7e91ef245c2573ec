/**
 * Retries over real sockets with the fault origin: a refused connect is
 * retried on another target whatever the method; a reset or a 5xx only for
 * idempotent methods unless the route opts in; never once response bytes
 * reached the client; bodies kept up to `bodyBuffer` are sent again whole,
 * larger ones are not retried; Retry-After is waited within its bound.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { test, type TestContext } from 'node:test'
import { startFaultOrigin } from '../helpers/fault-origin.ts'
import { startGateway, startOrigin, startRawOrigin, waitFor } from '../helpers/gateway.ts'
import { resilienceConfig, send, startResettingOrigin, TryCounter, upstreamOf } from './helpers.ts'

const retries = { attempts: 2, backoff: { base: '1ms', max: '5ms' } }

test('a refused connect is retried on another target, for any method', async (t) => {
  const dead = await startFaultOrigin({ t, name: 'dead' })
  const live = await startFaultOrigin({ t, name: 'live' })
  await dead.set('refuse')
  const tries = new TryCounter(t)
  const gw = await startGateway(resilienceConfig([dead.url, live.url], { retries }), { t })
  for (const method of ['GET', 'GET', 'POST', 'POST', 'PATCH', 'PATCH']) {
    const r = await send(gw.url, method, method === 'GET' ? undefined : 'payload')
    assert.equal(r.status, 200, method)
    assert.equal(r.body, 'live')
  }
  const refused = tries.tries.filter((m) => m.code === 'UPSTREAM_CONNECT_REFUSED')
  assert.ok(refused.length >= 3, `${refused.length} refused tries, each retried`)
  assert.equal(live.stats.requests, 6)
})

test('without retries configured, a refused connect is answered 502 at once', async (t) => {
  const dead = await startFaultOrigin({ t, name: 'dead' })
  await dead.set('refuse')
  const gw = await startGateway(resilienceConfig([dead.url], {}), { t })
  const r = await send(gw.url)
  assert.equal(r.status, 502)
  assert.match(r.body, /UPSTREAM_CONNECT_REFUSED/)
})

test('a reset before the response is retried for GET and PUT, not for POST unless the route opts in', async (t) => {
  const resetting = await startResettingOrigin(t)
  const live = await startFaultOrigin({ t, name: 'live' })
  const gw = await startGateway(resilienceConfig([resetting.url, live.url], { retries }), { t })
  // Round-robin alternates: of every two requests one is sent to the resetting target first.
  const gets = await Promise.all([1, 2, 3, 4].map(() => send(gw.url, 'GET')))
  assert.deepEqual(
    gets.map((r) => r.status),
    [200, 200, 200, 200],
  )
  assert.equal(resetting.heads(), 2, 'two GETs were reset, then retried')
  const puts = [await send(gw.url, 'PUT', 'a'), await send(gw.url, 'PUT', 'b')]
  assert.deepEqual(
    puts.map((r) => r.status),
    [200, 200],
  )
  const before = resetting.heads()
  const posts = [await send(gw.url, 'POST', 'x'), await send(gw.url, 'POST', 'y')]
  assert.deepEqual(posts.map((r) => r.status).sort(), [200, 502])
  assert.match(posts.find((r) => r.status === 502)!.body, /UPSTREAM_RESET/)
  assert.equal(resetting.heads() - before, 1)

  const optIn = await startGateway(
    resilienceConfig([resetting.url, live.url], { retries }, { retries: { unsafeMethods: true } }),
    { t },
  )
  const unsafe = [await send(optIn.url, 'POST', 'x'), await send(optIn.url, 'POST', 'y')]
  assert.deepEqual(
    unsafe.map((r) => r.status),
    [200, 200],
  )
})

test('a 503 is retried for GET and dropped; for POST, and for a status not listed, it is forwarded', async (t) => {
  const failing = await startFaultOrigin({ t, name: 'failing' })
  const live = await startFaultOrigin({ t, name: 'live' })
  await failing.set({ mode: 'error', status: 503 })
  const gw = await startGateway(resilienceConfig([failing.url, live.url], { retries }), { t })
  for (let i = 0; i < 4; i++) {
    const r = await send(gw.url)
    assert.equal(r.status, 200)
    assert.equal(r.body, 'live')
  }
  assert.equal(failing.stats.errors, 2, 'every other GET went to the failing target first')
  const posts = [await send(gw.url, 'POST', 'x'), await send(gw.url, 'POST', 'y')]
  assert.deepEqual(posts.map((r) => `${r.status} ${r.body}`).sort(), ['200 live', '503 failing fault'])

  await failing.set({ mode: 'error', status: 500 })
  const statuses = [await send(gw.url), await send(gw.url)].map((r) => r.status).sort()
  assert.deepEqual(statuses, [200, 500], '500 is not in retries.on by default')
})

test('no retry once response bytes reached the client', async (t) => {
  const breaking = await startFaultOrigin({ t, name: 'breaking' })
  await breaking.set('reset') // a 200 head and half its body, then a reset
  const gw = await startGateway(resilienceConfig([breaking.url], { retries: { ...retries, attempts: 3 } }), {
    t,
  })
  const r = await send(gw.url)
  assert.equal(r.status, 200)
  assert.equal(r.broken, true, 'the response is cut, never completed by a second try')
  assert.equal(breaking.stats.requests, 1)
})

/**
 * resetThenStore: a gateway with bodyBuffer 16kb over an origin that resets
 * every request and one that records each body it receives whole.
 */
async function resetThenStore(t: TestContext) {
  const resetting = await startResettingOrigin(t)
  const received: string[] = []
  const live = await startOrigin(
    (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        received.push(Buffer.concat(chunks).toString('latin1'))
        res.end('stored')
      })
    },
    { t },
  )
  const gw = await startGateway(
    resilienceConfig([resetting.url, live.url], { retries: { ...retries, bodyBuffer: '16kb' } }),
    { t },
  )
  return { resetting, received, gw }
}

test('a body within bodyBuffer is sent again whole; a larger one is not retried', async (t) => {
  const { resetting, received, gw } = await resetThenStore(t)
  const small = 'abcdefghij'.repeat(1000) // 10 kB
  const answers = [await send(gw.url, 'PUT', small), await send(gw.url, 'PUT', small)]
  assert.deepEqual(
    answers.map((r) => r.status),
    [200, 200],
  )
  assert.deepEqual(received, [small, small], 'the replayed body arrived whole')
  assert.equal(resetting.heads(), 1)

  const large = 'x'.repeat(64 * 1024)
  const big = [await send(gw.url, 'PUT', large), await send(gw.url, 'PUT', large)]
  assert.deepEqual(
    big.map((r) => r.status).sort(),
    [200, 502],
    'the one sent to the resetting target is not retried',
  )
})

test('Retry-After is waited before the retry; one beyond retryAfterMax is forwarded', async (t) => {
  let calls = 0
  const origin = await startOrigin(
    (req, res) => {
      calls++
      req.resume()
      if (calls === 1) res.writeHead(503, { 'retry-after': '1' }).end('busy')
      else if (calls === 3) res.writeHead(503, { 'retry-after': '30' }).end('later')
      else res.end('ok')
    },
    { t },
  )
  const gw = await startGateway(
    resilienceConfig([origin.url], { retries: { ...retries, retryAfterMax: '2s' } }),
    { t },
  )
  const t0 = performance.now()
  const r = await send(gw.url)
  const waited = performance.now() - t0
  assert.equal(r.status, 200)
  assert.equal(calls, 2)
  assert.ok(waited >= 950, `waited ${Math.round(waited)} ms for Retry-After: 1`)

  const late = await send(gw.url)
  assert.equal(late.status, 503)
  assert.equal(late.body, 'later')
  assert.equal(late.headers['retry-after'], '30')
  assert.equal(calls, 3)
})

test('per-try timeout moves on to another target; the route timeout bounds all tries', async (t) => {
  const hanging = await startFaultOrigin({ t, name: 'hanging' })
  const live = await startFaultOrigin({ t, name: 'live' })
  await hanging.set('hang')
  const gw = await startGateway(
    resilienceConfig([hanging.url, live.url], {
      retries: { ...retries, on: ['timeout'], perTryTimeout: '150ms' },
    }),
    { t },
  )
  const answers = [await send(gw.url), await send(gw.url)]
  assert.deepEqual(
    answers.map((r) => r.body),
    ['live', 'live'],
  )
  assert.equal(hanging.stats.hung, 1)

  await live.set('hang')
  const bounded = await startGateway(
    resilienceConfig(
      [hanging.url, live.url],
      { retries: { ...retries, attempts: 5, on: ['timeout'], perTryTimeout: '150ms' } },
      { timeout: '400ms' },
    ),
    { t },
  )
  const r = await send(bounded.url)
  assert.equal(r.status, 504)
  assert.match(r.body, /UPSTREAM_REQUEST_TIMEOUT/)
  assert.equal(upstreamOf(bounded).limits.requests, 0)
})

test('hedging: a second try after the delay; the first answer wins, the loser is cancelled; POST is not hedged', async (t) => {
  const slow = await startFaultOrigin({ t, name: 'slow' })
  const fast = await startFaultOrigin({ t, name: 'fast' })
  await slow.set({ mode: 'slow', delayMs: 1500 })
  const tries = new TryCounter(t)
  const gw = await startGateway(resilienceConfig([slow.url, fast.url], {}, { hedge: { delay: '100ms' } }), {
    t,
  })
  const hedged = await send(gw.url) // round-robin sends it to slow first
  assert.equal(hedged.status, 200)
  assert.equal(hedged.body, 'fast')
  const mine = tries.tries.filter((m) => m.gateway === gw.gw)
  assert.deepEqual(
    mine.map((m) => `${m.target === slow.url ? 'slow' : 'fast'} ${m.code ?? m.status}`).sort(),
    ['fast 200', 'slow UPSTREAM_TRY_CANCELLED'],
  )
  assert.equal(slow.stats.requests, 1)
  assert.equal((await send(gw.url)).body, 'fast', 'a fast first try is not hedged')
  assert.equal(slow.stats.requests, 1)

  const post = await send(gw.url, 'POST', 'x') // to slow again, and never hedged
  assert.equal(post.body, 'slow')
  assert.equal(fast.stats.requests, 2)
  const { limits } = upstreamOf(gw)
  assert.deepEqual([limits.requests, limits.retries, limits.pending], [0, 0, 0])
})

test('hedging: a hedge that fails leaves the first try alone; a first try that fails leaves the hedge to answer', async (t) => {
  const slow = await startFaultOrigin({ t, name: 'slow' })
  const dead = await startFaultOrigin({ t, name: 'dead' })
  await slow.set({ mode: 'slow', delayMs: 600 })
  await dead.set('refuse')
  const route = { hedge: { delay: '100ms' } }
  const gw = await startGateway(resilienceConfig([slow.url, dead.url], {}, route), { t })
  assert.equal((await send(gw.url)).body, 'slow', 'the hedge to dead was refused; the first try answered')

  // The first try is reset 300 ms in, while the hedge (sent at 100 ms) is still waiting for slow.
  const resetLater = await startRawOrigin(
    (conn) => {
      if (conn.data.includes('\r\n\r\n')) setTimeout(() => conn.socket.resetAndDestroy(), 300).unref()
    },
    { t },
  )
  const gw2 = await startGateway(resilienceConfig([resetLater.url, slow.url], {}, route), { t })
  const r = await send(gw2.url)
  assert.equal(r.status, 200)
  assert.equal(r.body, 'slow')
  assert.equal(upstreamOf(gw2).limits.requests, 0)
})

test('hedging: a client leaving during the race ends both tries', async (t) => {
  const a = await startFaultOrigin({ t, name: 'a' })
  const b = await startFaultOrigin({ t, name: 'b' })
  await a.set('hang')
  await b.set('hang')
  const gw = await startGateway(resilienceConfig([a.url, b.url], {}, { hedge: { delay: '50ms' } }), { t })
  const client = net.connect(gw.port, '127.0.0.1')
  client.on('error', () => {})
  client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor(() => a.stats.hung + b.stats.hung === 2, 'both tries reached their origins')
  client.destroy()
  const upstream = upstreamOf(gw)
  await waitFor(
    () => upstream.limits.requests === 0 && upstream.targets.every((x) => x.inflight === 0),
    'no request or try left in flight',
  )
})

test('a chunked body is kept while within bodyBuffer; once it outgrows it, a reset is not retried', async (t) => {
  const { received, gw } = await resetThenStore(t)
  /** putChunked sends a body in two writes, so node frames it chunked (no Content-Length). */
  const putChunked = (part: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(gw.url, { method: 'PUT', agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode!))
      })
      req.on('error', reject)
      req.write(part)
      setTimeout(() => req.end(part), 20)
    })
  const small = 'k'.repeat(5000)
  assert.deepEqual([await putChunked(small), await putChunked(small)], [200, 200])
  assert.deepEqual(received, [small + small, small + small], 'the kept chunked body was sent again whole')
  const large = 'L'.repeat(20_000)
  const statuses = [await putChunked(large), await putChunked(large)].sort()
  assert.deepEqual(statuses, [200, 502])
})
