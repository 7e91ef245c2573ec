/**
 * Upstream failures over real sockets: each one maps to its stable error
 * code and status while no response has started, and closes the client
 * connection (never a truncated success) once one has. After every scenario
 * nothing is left behind: no client connection, no deadline, no pooled
 * connection to an origin that failed, no extra active handle.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { describe, test } from 'node:test'
import type { Gateway } from '../../src/server/gateway.ts'
import { startBlackhole } from '../helpers/blackhole.ts'
import {
  type Cleanup,
  type GatewayHandle,
  parseResponses,
  proxyConfig,
  type RawConnection,
  rawRequest,
  startGateway,
  startOrigin,
  startRawOrigin,
  waitFor,
  waitForGatewayIdle,
} from '../helpers/gateway.ts'

const GET = 'GET /x HTTP/1.1\r\nHost: example.test\r\n\r\n'
/** Asks the gateway to close after answering, so the time to 'close' is the time to the answer. */
const CLOSE_GET = 'GET /x HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n'
const SHORT = { connect: 300, response: 300, idle: 300 }

/** activeHandles counts what keeps the event loop alive (unref'd timers are not counted). */
function activeHandles(): number {
  return process.getActiveResourcesInfo().length
}

/**
 * assertNoLeak waits for the gateway to be idle with empty pools, then for the
 * process's active handles to come back to `baseline` (closed sockets leave the
 * list a tick or two after 'close').
 */
async function assertNoLeak(gw: Gateway, baseline: number): Promise<void> {
  await waitForGatewayIdle(gw, { poolsEmpty: true })
  try {
    await waitFor(() => activeHandles() <= baseline, 'active handles back to baseline')
  } catch {
    assert.fail(`active handles ${JSON.stringify(process.getActiveResourcesInfo())}, baseline ${baseline}`)
  }
  assert.deepEqual(gw.stats().connections, 0)
  assert.deepEqual(gw.stats().deadlines, 0)
}

/** A raw origin that runs `reply` once per connection, when the request head has arrived. */
function origin(t: Cleanup, reply: (conn: RawConnection) => void) {
  const answered = new WeakSet<RawConnection>()
  return startRawOrigin(
    (conn) => {
      if (answered.has(conn) || !conn.data.includes('\r\n\r\n')) return
      answered.add(conn)
      reply(conn)
    },
    { t },
  )
}

async function gatewayTo(t: Cleanup, url: string, timeouts = SHORT): Promise<GatewayHandle> {
  return startGateway(proxyConfig(url, { upstream: { timeouts } }), { t })
}

/** expectError asserts an error response with `status` naming `code`. */
function expectError(res: { text: string; data: Buffer }, status: number, code: string): void {
  const [r] = parseResponses(res.data)
  assert.ok(r, `a response, got ${JSON.stringify(res.text)}`)
  assert.equal(r.status, status, res.text)
  assert.match(r.body.toString(), new RegExp(`code: ${code}\\b`), res.text)
  assert.ok(r.headers['x-request-id'], 'x-request-id header')
}

describe('upstream fails before the response head', () => {
  test('nothing listening → 502 UPSTREAM_CONNECT_REFUSED', async (t) => {
    const free = net.createServer()
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r))
    const port = (free.address() as net.AddressInfo).port
    await new Promise<void>((r) => free.close(() => r()))
    const gw = await gatewayTo(t, `http://127.0.0.1:${port}`)
    const baseline = activeHandles()
    const res = await rawRequest(gw.port, CLOSE_GET)
    expectError(res, 502, 'UPSTREAM_CONNECT_REFUSED')
    await assertNoLeak(gw.gw, baseline)
  })

  test('a refused upstream keeps the client connection usable', async (t) => {
    const free = net.createServer()
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r))
    const port = (free.address() as net.AddressInfo).port
    await new Promise<void>((r) => free.close(() => r()))
    const gw = await gatewayTo(t, `http://127.0.0.1:${port}`)
    const res = await rawRequest(gw.port, [GET, CLOSE_GET], { timeout: 1000 })
    assert.ok(res.closed)
    assert.deepEqual(
      parseResponses(res.data).map((r) => r.status),
      [502, 502],
    )
  })

  for (const [name, how] of [
    ['FIN', (c: RawConnection) => c.socket.end()],
    ['RST', (c: RawConnection) => c.socket.resetAndDestroy()],
  ] as const) {
    test(`upstream closes mid-head (${name}) → 502 UPSTREAM_RESET`, async (t) => {
      const o = await origin(t, (c) => {
        c.socket.write('HTTP/1.1 200 OK\r\nContent-Le')
        setTimeout(() => how(c), 20)
      })
      const gw = await gatewayTo(t, o.url)
      const baseline = activeHandles()
      const res = await rawRequest(gw.port, GET, { timeout: 400 })
      expectError(res, 502, 'UPSTREAM_RESET')
      assert.ok(res.timedOut, 'a 502 before any response byte keeps the client connection open')
      await assertNoLeak(gw.gw, baseline)
    })
  }

  test('upstream closes before any response byte → 502 UPSTREAM_RESET', async (t) => {
    const o = await origin(t, (c) => c.socket.destroy())
    const gw = await gatewayTo(t, o.url)
    const baseline = activeHandles()
    const res = await rawRequest(gw.port, CLOSE_GET, { timeout: 1000 })
    expectError(res, 502, 'UPSTREAM_RESET')
    await assertNoLeak(gw.gw, baseline)
  })

  const INVALID: [string, string][] = [
    ['garbage status line', 'HELLO WORLD\r\n\r\n'],
    ['status code of four digits', 'HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n'],
    ['HTTP/2 status line', 'HTTP/2 200\r\nContent-Length: 0\r\n\r\n'],
    [
      'Content-Length and Transfer-Encoding',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
    ],
    ['differing Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!'],
    ['invalid Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok'],
    ['invalid header name', 'HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 2\r\n\r\nok'],
    ['NUL in a header value', 'HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok'],
    ['bare LF line ends', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok'],
  ]
  for (const [name, bytes] of INVALID) {
    test(`invalid response (${name}) → 502 UPSTREAM_INVALID_RESPONSE`, async (t) => {
      const o = await origin(t, (c) => c.socket.write(bytes, 'latin1'))
      const gw = await gatewayTo(t, o.url)
      const baseline = activeHandles()
      const res = await rawRequest(gw.port, CLOSE_GET, { timeout: 1000 })
      expectError(res, 502, 'UPSTREAM_INVALID_RESPONSE')
      // The origin's connection is not reused after a response we could not frame.
      await waitFor(() => o.connections.every((c) => c.closed), 'upstream connection closed')
      await assertNoLeak(gw.gw, baseline)
    })
  }

  test('connect timeout → 504 UPSTREAM_CONNECT_TIMEOUT', async (t) => {
    const blackhole = await startBlackhole(t)
    const gw = await gatewayTo(t, `http://127.0.0.1:${blackhole.port}`)
    const baseline = activeHandles()
    const started = performance.now()
    const res = await rawRequest(gw.port, CLOSE_GET, { timeout: 2000 })
    const took = performance.now() - started
    expectError(res, 504, 'UPSTREAM_CONNECT_TIMEOUT')
    assert.ok(took >= 250 && took < 1500, `answered after ${took} ms`)
    await assertNoLeak(gw.gw, baseline)
  })

  test('no response head in time → 504 UPSTREAM_RESPONSE_TIMEOUT, upstream closed', async (t) => {
    const o = await origin(t, () => {}) // reads the request, never answers
    const gw = await gatewayTo(t, o.url)
    const baseline = activeHandles()
    const started = performance.now()
    const res = await rawRequest(gw.port, CLOSE_GET, { timeout: 2000 })
    const took = performance.now() - started
    expectError(res, 504, 'UPSTREAM_RESPONSE_TIMEOUT')
    assert.ok(took >= 250 && took < 1500, `answered after ${took} ms`)
    await waitFor(() => o.connections.length === 1 && o.connections[0]!.closed, 'upstream closed')
    await assertNoLeak(gw.gw, baseline)
  })

  test('no route → 404 NO_ROUTE, the connection stays usable', async (t) => {
    const o = await startOrigin(undefined, { t })
    const gw = await startGateway(
      {
        upstreams: { origin: { targets: [{ url: o.url }] } },
        routes: [{ match: { path: '/api' }, upstream: 'origin' }],
      },
      { t },
    )
    const baseline = activeHandles()
    const res = await rawRequest(gw.port, [
      'GET /other HTTP/1.1\r\nHost: example.test\r\n\r\n',
      'GET /api/x HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n',
    ])
    const [notFound, ok] = parseResponses(res.data)
    assert.equal(notFound?.status, 404)
    assert.match(notFound!.body.toString(), /code: NO_ROUTE\b/)
    assert.equal(ok?.status, 200)
    assert.equal(o.requests.length, 1)
    assert.equal(o.requests[0]!.url, '/api/x')
    // The origin keeps its idle keep-alive connection; nothing else remains.
    await waitForGatewayIdle(gw.gw)
    await o.close()
    await assertNoLeak(gw.gw, baseline)
  })
})

describe('upstream fails after the response head', () => {
  test('body idle timeout (Content-Length): the client sees fewer bytes and a close', async (t) => {
    const o = await origin(t, (c) =>
      c.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'),
    )
    const gw = await gatewayTo(t, o.url)
    const baseline = activeHandles()
    const res = await rawRequest(gw.port, GET, { timeout: 2000 })
    assert.ok(res.closed && !res.timedOut, 'closed by the gateway')
    const [r] = parseResponses(res.data)
    assert.equal(r?.status, 200)
    assert.equal(r!.body.toString(), '0123456789')
    assert.equal(r!.complete, false)
    await waitFor(() => o.connections[0]!.closed, 'upstream closed')
    await assertNoLeak(gw.gw, baseline)
  })

  test('body idle timeout (chunked): no terminating chunk and a close', async (t) => {
    const o = await origin(t, (c) =>
      c.socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'),
    )
    const gw = await gatewayTo(t, o.url)
    const baseline = activeHandles()
    const res = await rawRequest(gw.port, GET, { timeout: 2000 })
    assert.ok(res.closed && !res.timedOut, 'closed by the gateway')
    const [r] = parseResponses(res.data)
    assert.equal(r?.status, 200)
    assert.equal(r!.body.toString(), 'hello')
    assert.equal(r!.complete, false)
    assert.doesNotMatch(res.text, /\r\n0\r\n\r\n$/)
    await waitFor(() => o.connections[0]!.closed, 'upstream closed')
    await assertNoLeak(gw.gw, baseline)
  })

  test('body idle timeout while the upstream trickles resets each time it sends', async (t) => {
    // 6 pieces 150 ms apart (900 ms in all) never leave 300 ms of silence.
    const o = await origin(t, (c) => {
      c.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n')
      let n = 0
      const timer = setInterval(() => {
        if (c.closed) return clearInterval(timer)
        c.socket.write(String(n))
        if (++n === 6) clearInterval(timer)
      }, 150)
    })
    const gw = await gatewayTo(t, o.url)
    const res = await rawRequest(gw.port, CLOSE_GET, { timeout: 2000 })
    const [r] = parseResponses(res.data)
    assert.equal(r?.status, 200)
    assert.equal(r!.body.toString(), '012345')
    assert.ok(r!.complete)
  })

  for (const [name, tail] of [
    ['Content-Length, upstream closes', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello'],
    ['chunked, upstream closes', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'],
  ] as const) {
    for (const [how, end] of [
      ['FIN', (c: RawConnection) => c.socket.end()],
      ['RST', (c: RawConnection) => c.socket.resetAndDestroy()],
    ] as const) {
      test(`${name} (${how}) mid-body: the client connection is closed`, async (t) => {
        const o = await origin(t, (c) => {
          c.socket.write(tail)
          setTimeout(() => end(c), 30)
        })
        const gw = await gatewayTo(t, o.url, { ...SHORT, idle: 5000 })
        const baseline = activeHandles()
        const res = await rawRequest(gw.port, GET, { timeout: 2000 })
        assert.ok(res.closed && !res.timedOut, 'closed by the gateway')
        const [r] = parseResponses(res.data)
        assert.equal(r?.status, 200)
        assert.equal(r!.body.toString(), 'hello')
        assert.equal(r!.complete, false)
        await assertNoLeak(gw.gw, baseline)
      })
    }
  }

  test('invalid chunk from the upstream mid-body: the client connection is closed', async (t) => {
    const o = await origin(t, (c) =>
      c.socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n'),
    )
    const gw = await gatewayTo(t, o.url, { ...SHORT, idle: 5000 })
    const baseline = activeHandles()
    const res = await rawRequest(gw.port, GET, { timeout: 2000 })
    assert.ok(res.closed && !res.timedOut, 'closed by the gateway')
    // The failure came in the same read as the head: the client may get nothing at all,
    // but never a complete response.
    assert.ok(
      parseResponses(res.data).every((r) => !r.complete),
      res.text,
    )
    await waitFor(() => o.connections[0]!.closed, 'upstream closed')
    await assertNoLeak(gw.gw, baseline)
  })

  test('a body longer than its Content-Length is cut at the length and the upstream not reused', async (t) => {
    const o = await origin(t, (c) => c.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA'))
    const gw = await gatewayTo(t, o.url)
    const res = await rawRequest(gw.port, [GET, CLOSE_GET], { timeout: 1000 })
    assert.ok(res.closed)
    const [first, second] = parseResponses(res.data)
    assert.equal(first?.body.toString(), 'ok')
    assert.ok(first!.complete)
    // The second request needs a new upstream connection (the first one carried stray bytes).
    assert.equal(second?.status, 200)
    assert.equal(o.connections.length, 2)
    assert.doesNotMatch(res.text, /EXTRA/)
  })
})

describe('client timeouts', () => {
  /** sendSlowly connects, waits `pauseMs`, writes `bytes`, and collects until close (2 s at most). */
  async function sendSlowly(
    port: number,
    pauseMs: number,
    bytes: string,
  ): Promise<{ text: string; closed: boolean }> {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', () => {})
    const closed = new Promise<boolean>((r) => socket.on('close', () => r(true)))
    try {
      await new Promise<void>((r) => socket.on('connect', () => r()))
      await new Promise((r) => setTimeout(r, pauseMs))
      if (!socket.destroyed) socket.write(bytes, 'latin1')
      const timer = new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())
      const wasClosed = await Promise.race([closed, timer])
      return { text: Buffer.concat(chunks).toString('latin1'), closed: wasClosed }
    } finally {
      socket.destroy()
    }
  }

  test('a gateway idle longer than timeouts.head gives its first client the whole head timeout', async (t) => {
    const o = await startOrigin(undefined, { t })
    const gw = await startGateway(proxyConfig(o.url, { timeouts: { head: 300 } }), { t })
    await new Promise((r) => setTimeout(r, 500)) // no connection yet, longer than the head timeout
    const res = await sendSlowly(gw.port, 100, CLOSE_GET)
    assert.match(res.text, /^HTTP\/1\.1 200 /, 'the first client was not cut off')
  })

  test('a partial head then silence → 408 HEAD_TIMEOUT and close; the origin sees nothing', async (t) => {
    const o = await startRawOrigin(undefined, { t })
    const gw = await startGateway(proxyConfig(o.url, { timeouts: { head: 300 } }), { t })
    const baseline = activeHandles()
    const res = await rawRequest(gw.port, 'GET / HTTP/1.1\r\nHost: exa', { timeout: 2000 })
    expectError(res, 408, 'HEAD_TIMEOUT')
    assert.ok(res.closed && !res.timedOut)
    assert.equal(o.received().length, 0)
    await assertNoLeak(gw.gw, baseline)
  })

  test('a request body that stalls → 408 BODY_TIMEOUT and close; the upstream is closed', async (t) => {
    let upstreamClosed = false
    const o = await startOrigin(
      (req) => {
        req.socket.on('close', () => {
          upstreamClosed = true
        })
        req.resume()
      },
      { t },
    )
    const gw = await startGateway(
      proxyConfig(o.url, { timeouts: { body: 300 }, limits: { bodyBuffer: 0 } }),
      { t },
    )
    const res = await rawRequest(gw.port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc', {
      timeout: 2000,
    })
    expectError(res, 408, 'BODY_TIMEOUT')
    assert.ok(res.closed && !res.timedOut)
    await waitFor(() => upstreamClosed, 'upstream closed')
    assert.equal(o.requests[0]?.complete, false)
    await waitForGatewayIdle(gw.gw, { poolsEmpty: true })
  })
})
