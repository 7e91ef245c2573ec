/**
 * Upstream connection pooling: keep-alive reuse, the maxConnections bound
 * and its queue timeout, idle expiry, what happens when an origin drops a
 * keep-alive connection (safe replay of idempotent requests only), and
 * round-robin balancing across targets.
 */
import assert from 'node:assert/strict'
import type net from 'node:net'
import { describe, it, type TestContext } from 'node:test'
import {
  type OriginHandle,
  proxyConfig,
  type RawConnection,
  startGateway,
  startOrigin,
  startRawOrigin,
  waitFor,
} from '../helpers/gateway.ts'
import { RawClient } from '../helpers/raw-client.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** get sends one GET on a fresh client connection and returns status and body. */
async function get(port: number, t: TestContext, path = '/'): Promise<{ status: number; body: string }> {
  const c = await RawClient.connect(port, t)
  c.write(`GET ${path} HTTP/1.1\r\nHost: example.test\r\n\r\n`)
  const res = await c.response({ timeout: 5000 })
  c.destroy()
  return { status: res.status, body: res.body.toString() }
}

/** Counts an origin's open TCP connections and the most it ever had at once. */
function trackConnections(origin: OriginHandle): { open: number; max: number; closed: number } {
  const s = { open: 0, max: 0, closed: 0 }
  origin.server.on('connection', (sock: net.Socket) => {
    s.open++
    s.max = Math.max(s.max, s.open)
    sock.on('close', () => {
      s.open--
      s.closed++
    })
  })
  return s
}

describe('upstream keep-alive', () => {
  it('sends sequential requests over one upstream connection', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const gw = await startGateway(proxyConfig(origin.url), { t })
    for (let i = 0; i < 10; i++) assert.deepEqual(await get(gw.port, t, `/${i}`), { status: 200, body: 'ok' })
    assert.equal(origin.requests.length, 10)
    assert.equal(origin.connections, 1)
    assert.deepEqual(gw.gw.stats().upstreams.origin![origin.url], { open: 1, idle: 1 })
  })

  it('does not reuse a connection whose response said Connection: close', async (t) => {
    const origin = await startOrigin(
      (_req, res) => {
        res.setHeader('Connection', 'close')
        res.end('bye')
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    for (let i = 0; i < 3; i++) {
      c.write('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n')
      const res = await c.response()
      assert.equal(res.body.toString(), 'bye')
      // Connection is hop-by-hop: the upstream's close is not the client's.
      assert.equal(res.headers.connection, undefined)
    }
    assert.equal(await c.closedWithin(50), false)
    assert.equal(origin.connections, 3)
    await waitFor(() => gw.gw.stats().upstreams.origin![origin.url]!.open === 0, 'no pooled connection')
  })

  it('closes idle upstream connections after pool.idleTimeout', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const conns = trackConnections(origin)
    const gw = await startGateway(proxyConfig(origin.url, { upstream: { pool: { idleTimeout: '300ms' } } }), {
      t,
    })
    assert.equal((await get(gw.port, t)).status, 200)
    assert.deepEqual(gw.gw.stats().upstreams.origin![origin.url], { open: 1, idle: 1 })
    await sleep(100)
    assert.equal(conns.closed, 0, 'closed before the idle timeout')
    await waitFor(() => conns.closed === 1, 'origin to see the idle connection close', 2000)
    assert.deepEqual(gw.gw.stats().upstreams.origin![origin.url], { open: 0, idle: 0 })
    // The next request simply opens a new one.
    assert.equal((await get(gw.port, t)).status, 200)
    assert.equal(origin.connections, 2)
  })
})

describe('pool limits', () => {
  it('never opens more than pool.maxConnections; extra requests wait their turn', async (t) => {
    let inFlight = 0
    let maxInFlight = 0
    const origin = await startOrigin(
      (req, res) => {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        req.resume()
        setTimeout(() => {
          inFlight--
          res.end(`done ${req.url}`)
        }, 80)
      },
      { t },
    )
    const conns = trackConnections(origin)
    const gw = await startGateway(proxyConfig(origin.url, { upstream: { pool: { maxConnections: 2 } } }), {
      t,
    })
    let maxOpen = 0
    const sampler = setInterval(() => {
      maxOpen = Math.max(maxOpen, gw.gw.stats().upstreams.origin![origin.url]!.open)
    }, 5)
    t.after(() => clearInterval(sampler))
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => get(gw.port, t, `/${i}`)))
    clearInterval(sampler)
    for (const [i, r] of results.entries()) assert.deepEqual(r, { status: 200, body: `done /${i}` })
    assert.equal(conns.max, 2, 'the origin saw more (or fewer) simultaneous connections than the bound')
    assert.equal(maxInFlight, 2)
    assert.ok(maxOpen <= 2, `stats showed ${maxOpen} open`)
    assert.equal(origin.connections, 2)
  })

  it('answers 503 UPSTREAM_QUEUE_TIMEOUT when no connection frees up within pool.queueTimeout', async (t) => {
    const held: (() => void)[] = []
    const origin = await startOrigin(
      (req, res) => {
        req.resume()
        if (req.url === '/hold') held.push(() => res.end('released'))
        else res.end('quick')
      },
      { t },
    )
    const gw = await startGateway(
      proxyConfig(origin.url, { upstream: { pool: { maxConnections: 1, queueTimeout: '300ms' } } }),
      { t },
    )
    const slow = get(gw.port, t, '/hold')
    await waitFor(() => held.length === 1, 'the slot to be taken')
    const started = Date.now()
    const c = await RawClient.connect(gw.port, t)
    c.write('GET /queued HTTP/1.1\r\nHost: example.test\r\nAccept: application/json\r\n\r\n')
    const res = await c.response()
    assert.equal(res.status, 503)
    assert.equal(JSON.parse(res.body.toString()).error.code, 'UPSTREAM_QUEUE_TIMEOUT')
    assert.ok(Date.now() - started >= 250, `gave up after ${Date.now() - started} ms`)
    assert.equal(await c.closedWithin(50), false, 'a gateway error keeps the client connection')
    held[0]!()
    assert.deepEqual(await slow, { status: 200, body: 'released' })
    // The slot is free again and the queued-out request never reached the origin.
    c.write('GET /after HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).body.toString(), 'quick')
    assert.deepEqual(
      origin.requests.map((r) => r.url),
      ['/hold', '/after'],
    )
  })
})

type Drop = 'fin' | 'reset'

/**
 * A raw origin answering `200 conn-reply <n>` to the n-th request of each
 * connection, with keep-alive, unless `onRequest` says drop: then the
 * connection is closed (FIN) or reset (RST) with nothing sent.
 */
function countingOrigin(
  t: TestContext,
  onRequest: (conn: RawConnection, n: number) => 'answer' | 'drop',
  drop: Drop = 'fin',
) {
  const counts = new Map<RawConnection, number>()
  return startRawOrigin(
    (conn) => {
      // Every test request here is small enough to arrive in one piece; count heads seen.
      const n = conn.data.toString('latin1').split('\r\n\r\n').length - 1
      const before = counts.get(conn) ?? 0
      if (n === before) return
      counts.set(conn, n)
      if (onRequest(conn, n) === 'drop') {
        if (drop === 'reset') conn.socket.resetAndDestroy()
        else conn.socket.destroy()
        return
      }
      const body = `conn-reply ${n}`
      conn.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    },
    { t },
  )
}

describe('an origin dropping keep-alive connections', () => {
  it('detects a connection the origin closed right after a response (no Connection: close) and uses a new one', async (t) => {
    const origin = await startRawOrigin(
      (conn) => {
        if (!conn.data.includes('\r\n\r\n')) return
        const text = conn.data.toString('latin1')
        const len = /content-length: (\d+)/i.exec(text)
        if (len && conn.data.length < text.indexOf('\r\n\r\n') + 4 + Number(len[1])) return
        conn.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET /1 HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).status, 200)
    c.write('GET /2 HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).status, 200)
    // Give the FIN time to arrive: a stale socket found before writing is simply not used,
    // so even a non-idempotent request with a body is safe.
    await sleep(50)
    c.write('POST /3 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 4\r\n\r\nbody')
    assert.equal((await c.response()).status, 200)
    assert.equal(origin.connections.length, 3)
    assert.equal(
      origin
        .received()
        .toString('latin1')
        .match(/POST \/3/g)?.length,
      1,
    )
  })

  for (const drop of ['fin', 'reset'] as const) {
    it(`replays an idempotent GET on a new connection when the reused one dies (${drop}) as the request is written`, async (t) => {
      // Every connection answers its first request and drops at its second, with nothing sent:
      // the race a pool cannot see coming (the origin's keep-alive timer firing as we write).
      const origin = await countingOrigin(t, (_conn, n) => (n >= 2 ? 'drop' : 'answer'), drop)
      const gw = await startGateway(proxyConfig(origin.url), { t })
      const c = await RawClient.connect(gw.port, t)
      c.write('GET /first HTTP/1.1\r\nHost: example.test\r\n\r\n')
      assert.equal((await c.response()).status, 200)
      c.write('GET /second HTTP/1.1\r\nHost: example.test\r\n\r\n')
      const res = await c.response()
      assert.equal(res.status, 200, res.body.toString())
      assert.equal(res.body.toString(), 'conn-reply 1', 'answered as the first request of a new connection')
      assert.equal(origin.connections.length, 2)
      assert.equal(
        origin
          .received()
          .toString('latin1')
          .match(/GET \/second/g)?.length,
        2,
        'sent twice',
      )
    })

    it(`does not replay a POST with a body when the reused connection dies (${drop}): 502`, async (t) => {
      const origin = await countingOrigin(t, (_conn, n) => (n >= 2 ? 'drop' : 'answer'), drop)
      const gw = await startGateway(proxyConfig(origin.url), { t })
      const c = await RawClient.connect(gw.port, t)
      c.write('GET /first HTTP/1.1\r\nHost: example.test\r\n\r\n')
      assert.equal((await c.response()).status, 200)
      c.write(
        'POST /pay HTTP/1.1\r\nHost: example.test\r\nAccept: application/json\r\nContent-Length: 6\r\n\r\namount',
      )
      const res = await c.response()
      assert.equal(res.status, 502)
      assert.equal(JSON.parse(res.body.toString()).error.code, 'UPSTREAM_RESET')
      await sleep(50)
      assert.equal(origin.connections.length, 1, 'no second connection was opened for a replay')
      assert.equal(
        origin
          .received()
          .toString('latin1')
          .match(/POST \/pay/g)?.length,
        1,
      )
    })
  }

  it('does not replay a POST without a body either (not idempotent)', async (t) => {
    const origin = await countingOrigin(t, (_conn, n) => (n >= 2 ? 'drop' : 'answer'))
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET /first HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).status, 200)
    c.write('POST /ping HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).status, 502)
    assert.equal(
      origin
        .received()
        .toString('latin1')
        .match(/POST \/ping/g)?.length,
      1,
    )
  })

  it('replays a GET only once: a second failure on the fresh connection is a 502', async (t) => {
    // The first connection answers once; every later request on any connection is dropped.
    let answered = 0
    const origin = await countingOrigin(t, () => (answered++ === 0 ? 'answer' : 'drop'))
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET /first HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).status, 200)
    c.write('GET /doomed HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).status, 502)
    assert.equal(
      origin
        .received()
        .toString('latin1')
        .match(/GET \/doomed/g)?.length,
      2,
    )
  })
})

describe('idle upstream connections', () => {
  it('are dropped, not read as the next response, when the origin writes to them unasked', async (t) => {
    // Some servers send `408` on a keep-alive connection they time out, then close.
    const origin = await startRawOrigin(
      (conn) => {
        if (!conn.data.toString('latin1').endsWith('\r\n\r\n')) return
        conn.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh')
        setTimeout(() => conn.socket.write('HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n'), 30)
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    assert.deepEqual(await get(gw.port, t), { status: 200, body: 'fresh' })
    await waitFor(
      () => gw.gw.stats().upstreams.origin![origin.url]!.open === 0,
      'the spoiled connection closed',
    )
    assert.deepEqual(await get(gw.port, t), { status: 200, body: 'fresh' })
    assert.equal(origin.connections.length, 2)
  })

  it('are kept up to pool.maxIdle; the surplus is closed', async (t) => {
    const held: (() => void)[] = []
    const origin = await startOrigin(
      (req, res) => {
        req.resume()
        held.push(() => res.end('ok'))
      },
      { t },
    )
    const conns = trackConnections(origin)
    const gw = await startGateway(proxyConfig(origin.url, { upstream: { pool: { maxIdle: 1 } } }), { t })
    const all = Promise.all([get(gw.port, t), get(gw.port, t), get(gw.port, t)])
    await waitFor(() => held.length === 3, 'three requests at the origin')
    for (const release of held) release()
    for (const r of await all) assert.equal(r.status, 200)
    await waitFor(() => conns.closed === 2, 'the origin to see two connections closed')
    assert.deepEqual(gw.gw.stats().upstreams.origin![origin.url], { open: 1, idle: 1 })
  })
})

describe('round-robin', () => {
  async function namedOrigins(t: TestContext, names: string[]) {
    return Promise.all(names.map((name) => startOrigin((_req, res) => res.end(name), { t })))
  }

  it('splits requests evenly across targets, in rotation', async (t) => {
    const origins = await namedOrigins(t, ['a', 'b', 'c'])
    const gw = await startGateway(proxyConfig(origins.map((o) => o.url)), { t })
    const seen: string[] = []
    for (let i = 0; i < 9; i++) seen.push((await get(gw.port, t)).body)
    assert.deepEqual(seen.slice(0, 3).sort(), ['a', 'b', 'c'])
    assert.deepEqual(seen.slice(3), [...seen.slice(0, 3), ...seen.slice(0, 3)], 'a fixed rotation')
    for (const o of origins) assert.equal(o.requests.length, 3)
  })

  it('gives weights 3:1 a 3:1 split, smoothly interleaved', async (t) => {
    const [a, b] = await namedOrigins(t, ['a', 'b'])
    const gw = await startGateway(
      {
        upstreams: {
          origin: {
            targets: [
              { url: a!.url, weight: 3 },
              { url: b!.url, weight: 1 },
            ],
          },
        },
        routes: [{ upstream: 'origin' }],
      },
      { t },
    )
    const seen: string[] = []
    for (let i = 0; i < 16; i++) seen.push((await get(gw.port, t)).body)
    assert.equal(seen.filter((s) => s === 'a').length, 12)
    assert.equal(seen.filter((s) => s === 'b').length, 4)
    // Smooth: every window of 4 consecutive picks holds exactly one b (never a a a a b … b).
    for (let i = 0; i + 4 <= seen.length; i++) {
      assert.equal(seen.slice(i, i + 4).filter((s) => s === 'b').length, 1, seen.join(' '))
    }
  })
})
