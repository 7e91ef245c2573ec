/**
 * Client-side connection management: keep-alive across requests, HTTP/1.0
 * persistence rules (RFC 9112 §9.3), Connection: close, the per-connection
 * request cap, the idle / head / body timeouts, and pipelining (§9.3.2).
 */
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { proxyConfig, startGateway, startOrigin, waitFor } from '../helpers/gateway.ts'
import { RawClient } from '../helpers/raw-client.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** An origin that answers `METHOD URL BODY` once the request body is in. */
function echoOrigin(t: TestContext) {
  return startOrigin(
    (req, res, record) => {
      req.on('end', () => {
        const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0)
        setTimeout(() => res.end(`${req.method} ${req.url} ${record.body.toString()}`), delay)
      })
    },
    { t },
  )
}

describe('client keep-alive', () => {
  it('serves several requests on one client connection', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    for (let i = 0; i < 5; i++) {
      c.write(`GET /r${i} HTTP/1.1\r\nHost: example.test\r\n\r\n`)
      const res = await c.response()
      assert.equal(res.status, 200)
      assert.equal(res.body.toString(), `GET /r${i} `)
      assert.equal(
        res.headers.connection,
        undefined,
        'an HTTP/1.1 keep-alive response needs no Connection field',
      )
    }
    assert.equal(await c.closedWithin(100), false)
    assert.equal(gw.gw.stats().connections, 1)
    assert.equal(origin.requests.length, 5)
  })

  it('closes an HTTP/1.0 connection without keep-alive, saying Connection: close', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET /old HTTP/1.0\r\nHost: example.test\r\n\r\n')
    const res = await c.response()
    assert.equal(res.status, 200)
    assert.equal(res.body.toString(), 'GET /old ')
    assert.equal(res.headers.connection, 'close')
    assert.equal(await c.closedWithin(1000), true)
    assert.equal(c.unread.length, 0)
  })

  it('keeps an HTTP/1.0 connection open when the client asks for keep-alive', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    for (const path of ['/one', '/two']) {
      c.write(`GET ${path} HTTP/1.0\r\nHost: example.test\r\nConnection: keep-alive\r\n\r\n`)
      const res = await c.response()
      assert.equal(res.status, 200)
      assert.equal(res.body.toString(), `GET ${path} `)
      assert.equal(res.headers.connection, 'keep-alive')
      assert.equal(res.framing, 'length', 'an HTTP/1.0 client cannot read chunked')
    }
    assert.equal(await c.closedWithin(150), false)
  })

  it('honours Connection: close from an HTTP/1.1 client', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET /bye HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n')
    const res = await c.response()
    assert.equal(res.status, 200)
    assert.equal(res.headers.connection, 'close')
    assert.equal(await c.closedWithin(1000), true)
    // The upstream connection is the gateway's own: it stays pooled for the next client.
    await waitFor(() => gw.gw.stats().upstreams.origin![origin.url]!.idle === 1, 'upstream connection pooled')
  })

  it('closes after limits.maxRequestsPerConnection, the last response saying Connection: close', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url, { limits: { maxRequestsPerConnection: 3 } }), { t })
    const c = await RawClient.connect(gw.port, t)
    for (let i = 1; i <= 3; i++) {
      c.write(`GET /n${i} HTTP/1.1\r\nHost: example.test\r\n\r\n`)
      const res = await c.response()
      assert.equal(res.status, 200)
      assert.equal(res.headers.connection, i === 3 ? 'close' : undefined, `response ${i}`)
    }
    assert.equal(await c.closedWithin(1000), true)
    assert.equal(origin.requests.length, 3)
  })

  it('treats EOF during a request as the client leaving, as nginx does: no response, connection closed', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET /half?delay=300 HTTP/1.1\r\nHost: example.test\r\n\r\n')
    c.socket.end()
    assert.equal(await c.closedWithin(1000), true)
    assert.equal(c.unread.length, 0, 'nothing is answered to a client that left')
    await waitFor(() => gw.gw.stats().connections === 0, 'connection forgotten')
  })

  it('closes on EOF from an idle keep-alive client', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).status, 200)
    c.socket.end()
    assert.equal(await c.closedWithin(1000), true)
  })

  it('closes an idle keep-alive connection after timeouts.keepAlive', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url, { timeouts: { keepAlive: '400ms' } }), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).status, 200)
    const idleSince = Date.now()
    assert.equal(await c.closedWithin(150), false, 'closed well before the keep-alive timeout')
    assert.equal(await c.closedWithin(2000), true, 'still open long after the keep-alive timeout')
    assert.ok(Date.now() - idleSince >= 350, `closed after ${Date.now() - idleSince} ms`)
    assert.equal(c.unread.length, 0, 'an idle close sends nothing')
    await waitFor(() => gw.gw.stats().connections === 0, 'connection forgotten')
  })

  it('does not apply the keep-alive timeout while a slow response is in flight', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url, { timeouts: { keepAlive: '250ms' } }), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET /?delay=600 HTTP/1.1\r\nHost: example.test\r\n\r\n')
    const res = await c.response()
    assert.equal(res.status, 200)
    assert.equal(res.body.toString(), 'GET /?delay=600 ')
  })
})

describe('slow clients', () => {
  it('answers 408 and closes when the head trickles in slower than timeouts.head (slowloris)', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url, { timeouts: { head: '300ms' } }), { t })
    const c = await RawClient.connect(gw.port, t)
    const head = 'GET /slow HTTP/1.1\r\nHost: example.test\r\nX-Pad: aaaaaaaaaaaaaaaaaaaa\r\n\r\n'
    const started = Date.now()
    let sent = 0
    // One byte every 40 ms: each byte is well inside the limit, the whole head is not.
    const trickle = setInterval(() => {
      if (sent < head.length && !c.ended) c.write(head[sent++]!)
    }, 40)
    t.after(() => clearInterval(trickle))
    const res = await c.response({ timeout: 3000 })
    clearInterval(trickle)
    assert.equal(res.status, 408)
    assert.match(res.body.toString(), /HEAD_TIMEOUT/)
    assert.equal(res.headers.connection, 'close')
    assert.ok(Date.now() - started >= 250, 'answered before the head timeout')
    assert.ok(sent < head.length, 'the whole head was sent before the timeout fired')
    assert.equal(await c.closedWithin(1000), true)
    assert.equal(origin.requests.length, 0)
  })

  it('closes without a response when nothing arrives within timeouts.head', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url, { timeouts: { head: '300ms' } }), { t })
    const c = await RawClient.connect(gw.port, t)
    assert.equal(await c.closedWithin(2000), true)
    assert.equal(c.unread.length, 0, 'silence gets silence')
  })

  it('answers 408 and closes when a request body stalls longer than timeouts.body', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url, { timeouts: { body: '300ms' } }), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: 10\r\n\r\nabc')
    const res = await c.response({ timeout: 3000 })
    assert.equal(res.status, 408)
    assert.match(res.body.toString(), /BODY_TIMEOUT/)
    assert.equal(res.headers.connection, 'close')
    assert.equal(await c.closedWithin(1000), true)
  })

  it('lets a body that keeps moving take longer than timeouts.body in total', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url, { timeouts: { body: '300ms' } }), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\n\r\n')
    for (const ch of 'hello') {
      await sleep(120)
      c.write(ch)
    }
    const res = await c.response()
    assert.equal(res.status, 200)
    assert.equal(res.body.toString(), 'POST /upload hello')
  })
})

describe('pipelining', () => {
  it('answers pipelined requests (one with a body) in order, even when the first is slowest', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write(
      'GET /a?delay=150 HTTP/1.1\r\nHost: example.test\r\n\r\n' +
        'POST /b HTTP/1.1\r\nHost: example.test\r\nContent-Length: 11\r\n\r\nhello world' +
        'PUT /c HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' +
        'GET /d HTTP/1.1\r\nHost: example.test\r\n\r\n',
    )
    const bodies: string[] = []
    for (let i = 0; i < 4; i++) bodies.push((await c.response()).body.toString())
    assert.deepEqual(bodies, ['GET /a?delay=150 ', 'POST /b hello world', 'PUT /c abc', 'GET /d '])
    assert.deepEqual(
      origin.requests.map((r) => r.url),
      ['/a?delay=150', '/b', '/c', '/d'],
      'requests go upstream one at a time, in order',
    )
    assert.equal(await c.closedWithin(100), false)
  })

  it('stops a pipeline at limits.maxRequestsPerConnection', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url, { limits: { maxRequestsPerConnection: 2 } }), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write(['/1', '/2', '/3'].map((p) => `GET ${p} HTTP/1.1\r\nHost: example.test\r\n\r\n`).join(''))
    assert.equal((await c.response()).headers.connection, undefined)
    const last = await c.response()
    assert.equal(last.body.toString(), 'GET /2 ')
    assert.equal(last.headers.connection, 'close')
    assert.equal(await c.closedWithin(1000), true)
    assert.equal(c.unread.length, 0)
    assert.equal(origin.requests.length, 2)
  })

  it('ends a pipeline at Connection: close and ignores what follows', async (t) => {
    const origin = await echoOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write(
      'GET /1 HTTP/1.1\r\nHost: example.test\r\n\r\n' +
        'GET /2 HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n' +
        'GET /3 HTTP/1.1\r\nHost: example.test\r\n\r\n',
    )
    assert.equal((await c.response()).body.toString(), 'GET /1 ')
    const last = await c.response()
    assert.equal(last.body.toString(), 'GET /2 ')
    assert.equal(last.headers.connection, 'close')
    assert.equal(await c.closedWithin(1000), true)
    assert.equal(c.unread.length, 0)
    assert.deepEqual(
      origin.requests.map((r) => r.url),
      ['/1', '/2'],
    )
  })
})
