/**
 * Message bodies through the proxy: Expect: 100-continue, chunked bodies and
 * trailers in both directions, re-framing per client version (RFC 9112 §6,
 * §7), bodiless responses (HEAD, 204, 304), 103 Early Hints, and byte-exact
 * delivery of binary and multi-megabyte bodies.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { describe, it, type TestContext } from 'node:test'
import { proxyConfig, startGateway, startOrigin, startRawOrigin, waitFor } from '../helpers/gateway.ts'
import { RawClient } from '../helpers/raw-client.ts'

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/** An origin answering `METHOD URL body` once the request is in. */
async function echoGateway(t: TestContext) {
  const origin = await startOrigin(
    (req, res, record) => req.on('end', () => res.end(`${req.method} ${req.url} ${record.body}`)),
    { t },
  )
  const gw = await startGateway(proxyConfig(origin.url), { t })
  return { origin, gw }
}

/** A gateway in front of a raw origin that writes `reply` to every complete request head. */
async function rawReplyGateway(t: TestContext, reply: (request: string) => { data: string; end?: boolean }) {
  const origin = await startRawOrigin(
    (conn) => {
      const text = conn.data.toString('latin1')
      const heads = text.split('\r\n\r\n').length - 1
      const answered = (conn as { answered?: number }).answered ?? 0
      if (heads <= answered) return
      ;(conn as { answered?: number }).answered = heads
      const r = reply(text.split('\r\n\r\n')[heads - 1]!)
      if (r.end) conn.socket.end(r.data)
      else conn.socket.write(r.data)
    },
    { t },
  )
  const gw = await startGateway(proxyConfig(origin.url), { t })
  return { origin, gw }
}

describe('Expect: 100-continue', () => {
  async function continueGateway(t: TestContext) {
    const origin = await startOrigin(undefined, { t })
    // With a checkContinue listener node leaves the decision to us, like a real application.
    origin.server.on('checkContinue', (req, res) => {
      if (req.url === '/refuse') {
        res.writeHead(413, { 'Content-Type': 'text/plain' }).end('too big for me')
        return
      }
      res.writeContinue()
      origin.server.emit('request', req, res)
    })
    const gw = await startGateway(proxyConfig(origin.url), { t })
    return { origin, gw }
  }

  it('relays the origin’s 100 Continue, then the body, then the final response', async (t) => {
    const { origin, gw } = await continueGateway(t)
    const c = await RawClient.connect(gw.port, t)
    c.write('PUT /upload HTTP/1.1\r\nHost: example.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n')
    await waitFor(() => c.unread.includes('\r\n\r\n'), 'an interim response before the body is sent')
    assert.match(c.unread.toString('latin1'), /^HTTP\/1\.1 100 Continue\r\n/)
    assert.equal(origin.requests[0]?.body.length ?? 0, 0)
    c.write('hello')
    const res = await c.response()
    assert.deepEqual(
      res.interim.map((i) => i.status),
      [100],
    )
    assert.equal(res.status, 200)
    assert.equal(origin.requests[0]!.body.toString(), 'hello')
    assert.equal(await c.closedWithin(50), false)
  })

  it('passes on a final response the origin sends instead of 100, without the body being sent', async (t) => {
    const { origin, gw } = await continueGateway(t)
    const c = await RawClient.connect(gw.port, t)
    c.write(
      'PUT /refuse HTTP/1.1\r\nHost: example.test\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n',
    )
    const res = await c.response()
    assert.equal(res.status, 413)
    assert.deepEqual(res.interim, [])
    assert.equal(res.body.toString(), 'too big for me')
    assert.equal(origin.requests.length, 0)
    // The unsent body cannot be skipped over, so the connection must end; it should say so.
    assert.equal(res.headers.connection, 'close')
    assert.equal(await c.closedWithin(1000), true)
  })
})

describe('chunked bodies', () => {
  it('re-chunks a chunked request body and keeps its trailers', async (t) => {
    const { origin, gw } = await echoGateway(t)
    const c = await RawClient.connect(gw.port, t)
    c.write(
      'POST /chunks HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n' +
        '5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Checksum: abc123\r\nX-Other: 2\r\n\r\n',
    )
    const res = await c.response()
    assert.equal(res.body.toString(), 'POST /chunks hello world')
    const seen = origin.requests[0]!
    assert.equal(seen.headers['transfer-encoding'], 'chunked')
    assert.deepEqual(seen.rawTrailers, ['X-Checksum', 'abc123', 'X-Other', '2'])
  })

  it('re-chunks a chunked response to an HTTP/1.1 client, trailers included', async (t) => {
    const origin = await startOrigin(
      (_req, res) => {
        res.setHeader('Trailer', 'X-Sum')
        res.write('part one, ')
        setTimeout(() => {
          res.write('part two')
          res.addTrailers({ 'X-Sum': '42' })
          res.end()
        }, 20)
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n')
    const res = await c.response()
    assert.equal(res.framing, 'chunked')
    assert.equal(res.body.toString(), 'part one, part two')
    assert.deepEqual(res.trailers, ['X-Sum', '42'])
    assert.equal(res.headers['content-length'], undefined)
    c.write('GET /again HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).body.toString(), 'part one, part two')
  })

  it('delivers a chunked response close-delimited to an HTTP/1.0 client', async (t) => {
    const origin = await startOrigin(
      (_req, res) => {
        res.write('old ')
        setTimeout(() => res.end('client'), 20)
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    // Even one asking for keep-alive: without a length the only delimiter HTTP/1.0 knows is close.
    c.write('GET / HTTP/1.0\r\nHost: example.test\r\nConnection: keep-alive\r\n\r\n')
    const res = await c.response()
    assert.equal(res.framing, 'close')
    assert.equal(res.headers['transfer-encoding'], undefined)
    assert.equal(res.headers.connection, 'close')
    assert.equal(res.body.toString(), 'old client')
    assert.equal(c.closed || (await c.closedWithin(1000)), true)
  })
})

describe('close-delimited upstream responses', () => {
  const reply = () => ({
    data: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end',
    end: true,
  })

  it('are re-framed as chunked for HTTP/1.1 clients, whose connection stays open', async (t) => {
    const { gw, origin } = await rawReplyGateway(t, reply)
    const c = await RawClient.connect(gw.port, t)
    for (let i = 0; i < 2; i++) {
      c.write('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n')
      const res = await c.response()
      assert.equal(res.framing, 'chunked')
      assert.equal(res.body.toString(), 'until the end')
      assert.equal(res.headers.connection, undefined)
    }
    assert.equal(await c.closedWithin(50), false)
    assert.equal(
      origin.connections.length,
      2,
      'a close-delimited response cannot leave its connection reusable',
    )
  })

  it('stay close-delimited for HTTP/1.0 clients', async (t) => {
    const { gw } = await rawReplyGateway(t, reply)
    const c = await RawClient.connect(gw.port, t)
    c.write('GET / HTTP/1.0\r\nHost: example.test\r\n\r\n')
    const res = await c.response()
    assert.equal(res.framing, 'close')
    assert.equal(res.body.toString(), 'until the end')
  })
})

describe('responses without a body', () => {
  it('HEAD gets Content-Length but no body, and the connection stays usable', async (t) => {
    const origin = await startOrigin(
      (_req, res) => {
        const body = 'x'.repeat(1234)
        res.setHeader('Content-Length', body.length) // node omits it on HEAD unless told
        res.end(body)
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('HEAD /doc HTTP/1.1\r\nHost: example.test\r\n\r\n')
    const head = await c.response({ head: true })
    assert.equal(head.status, 200)
    assert.equal(head.headers['content-length'], '1234')
    c.write('GET /doc HTTP/1.1\r\nHost: example.test\r\n\r\n')
    const get = await c.response()
    assert.equal(get.status, 200, 'stray body bytes after HEAD would corrupt this response')
    assert.equal(get.body.length, 1234)
    assert.equal(c.unread.length, 0)
  })

  it('HEAD answered with Transfer-Encoding: chunked gets no body either', async (t) => {
    const { gw } = await rawReplyGateway(t, () => ({
      data: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
    }))
    const c = await RawClient.connect(gw.port, t)
    c.write('HEAD / HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response({ head: true })).status, 200)
    c.write('HEAD / HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response({ head: true })).status, 200)
    assert.equal(c.unread.length, 0)
  })

  for (const status of [204, 304]) {
    it(`${status} has no body, even with a Content-Length, and the connection stays usable`, async (t) => {
      const { gw, origin } = await rawReplyGateway(t, () => ({
        data: `HTTP/1.1 ${status} X\r\nETag: "v1"\r\n${status === 304 ? 'Content-Length: 5\r\n' : ''}\r\n`,
      }))
      const c = await RawClient.connect(gw.port, t)
      for (let i = 0; i < 2; i++) {
        c.write('GET / HTTP/1.1\r\nHost: example.test\r\nIf-None-Match: "v1"\r\n\r\n')
        const res = await c.response()
        assert.equal(res.status, status)
        assert.equal(res.headers.etag, '"v1"')
        assert.equal(res.headers['transfer-encoding'], undefined)
      }
      await new Promise((r) => setTimeout(r, 30))
      assert.equal(c.unread.length, 0, 'no body bytes followed')
      assert.equal(origin.connections.length, 1, 'the upstream connection was reused')
    })
  }
})

describe('103 Early Hints', () => {
  async function hintsGateway(t: TestContext) {
    const origin = await startOrigin(
      (_req, res) => {
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' })
        setTimeout(() => res.end('page'), 20)
      },
      { t },
    )
    return startGateway(proxyConfig(origin.url), { t })
  }

  it('are forwarded to HTTP/1.1 clients before the final response', async (t) => {
    const gw = await hintsGateway(t)
    const c = await RawClient.connect(gw.port, t)
    c.write('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n')
    const res = await c.response()
    assert.equal(res.interim.length, 1)
    assert.equal(res.interim[0]!.status, 103)
    assert.equal(res.interim[0]!.headers.link, '</style.css>; rel=preload; as=style')
    assert.equal(res.status, 200)
    assert.equal(res.body.toString(), 'page')
  })

  it('pass on 103 but not a 100 Continue the client never asked for', async (t) => {
    const { gw } = await rawReplyGateway(t, () => ({
      data:
        'HTTP/1.1 100 Continue\r\n\r\n' +
        'HTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload\r\n\r\n' +
        'HTTP/1.1 103 Early Hints\r\nLink: </b.js>; rel=preload\r\n\r\n' +
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    }))
    const c = await RawClient.connect(gw.port, t)
    c.write('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n')
    const res = await c.response()
    assert.deepEqual(
      res.interim.map((i) => `${i.status} ${i.headers.link}`),
      ['103 </a.js>; rel=preload', '103 </b.js>; rel=preload'],
    )
    assert.equal(res.body.toString(), 'ok')
  })

  it('are not sent to HTTP/1.0 clients (RFC 9110 §15.2)', async (t) => {
    const gw = await hintsGateway(t)
    const c = await RawClient.connect(gw.port, t)
    c.write('GET / HTTP/1.0\r\nHost: example.test\r\n\r\n')
    const res = await c.response()
    assert.deepEqual(res.interim, [])
    assert.equal(res.body.toString(), 'page')
  })
})

describe('empty request bodies', () => {
  it('keep an explicit Content-Length: 0 (servers may refuse a POST without a length)', async (t) => {
    const { origin, gw } = await echoGateway(t)
    const c = await RawClient.connect(gw.port, t)
    c.write('POST /empty HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\n\r\n')
    assert.equal((await c.response()).body.toString(), 'POST /empty ')
    c.write('GET /none HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).body.toString(), 'GET /none ')
    assert.equal(origin.requests[0]!.headers['content-length'], '0')
    assert.equal(origin.requests[1]!.headers['content-length'], undefined, 'none is invented for a GET')
    assert.equal(origin.requests[1]!.headers['transfer-encoding'], undefined)
  })

  it('keep a zero-length chunked body chunked', async (t) => {
    const { origin, gw } = await echoGateway(t)
    const c = await RawClient.connect(gw.port, t)
    c.write('POST /empty HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
    assert.equal((await c.response()).body.toString(), 'POST /empty ')
    assert.equal(origin.requests[0]!.headers['transfer-encoding'], 'chunked')
  })
})

describe('body integrity', () => {
  async function mirrorGateway(t: TestContext) {
    const origin = await startOrigin(
      (req, res) => {
        res.setHeader('Content-Type', 'application/octet-stream')
        req.pipe(res)
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    return { origin, gw }
  }

  it('carries every byte value intact both ways', async (t) => {
    const { origin, gw } = await mirrorGateway(t)
    const all = Buffer.alloc(256 * 8)
    for (let i = 0; i < all.length; i++) all[i] = i % 256
    const c = await RawClient.connect(gw.port, t)
    c.write(`POST /bin HTTP/1.1\r\nHost: example.test\r\nContent-Length: ${all.length}\r\n\r\n`)
    c.write(all)
    const res = await c.response()
    assert.ok(origin.requests[0]!.body.equals(all), 'request body changed on the way up')
    assert.ok(res.body.equals(all), 'response body changed on the way down')
  })

  it('moves a few megabytes each way unchanged (sha256), Content-Length up and chunked up', async (t) => {
    const { origin, gw } = await mirrorGateway(t)
    const big = randomBytes(4 * 1024 * 1024 + 7)
    const c = await RawClient.connect(gw.port, t)
    c.write(`POST /big HTTP/1.1\r\nHost: example.test\r\nContent-Length: ${big.length}\r\n\r\n`)
    c.write(big)
    const res = await c.response({ timeout: 20_000 })
    assert.equal(res.status, 200)
    assert.equal(res.body.length, big.length)
    assert.equal(sha256(res.body), sha256(big))
    assert.equal(sha256(origin.requests[0]!.body), sha256(big))

    // The same bytes again as a chunked upload in uneven chunks, on the same connection.
    c.write('PUT /big HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n')
    for (let at = 0; at < big.length;) {
      const n = Math.min(big.length - at, 100_000 + (at % 77_777))
      c.write(`${n.toString(16)}\r\n`)
      c.write(big.subarray(at, at + n))
      c.write('\r\n')
      at += n
    }
    c.write('0\r\n\r\n')
    const again = await c.response({ timeout: 20_000 })
    assert.equal(sha256(again.body), sha256(big))
    assert.equal(sha256(origin.requests[1]!.body), sha256(big))
  })
})

describe('request heads and bodies in separate client reads', () => {
  it('with bodyBuffer 0, sends the head upstream when its read is handled, before the body arrives', async (t) => {
    const origin = await startRawOrigin(
      (conn) => {
        const text = conn.data.toString('latin1')
        if (text.startsWith('GET /warm') && text.endsWith('\r\n\r\n') && !text.includes('POST'))
          conn.socket.write('HTTP/1.1 204 No Content\r\n\r\n')
        if (text.endsWith('\r\n\r\nhello'))
          conn.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url, { limits: { bodyBuffer: 0 } }), { t })
    const c = await RawClient.connect(gw.port, t)
    // A first request leaves a pooled connection, so the POST's head is sent
    // while the client read that carried it is still being handled.
    c.write('GET /warm HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).status, 204)
    c.write('POST /late HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\n\r\n')
    // The head alone must reach the origin: it is not held for a body still to come.
    await waitFor(() => origin.received().includes('POST /late HTTP/1.1'), 'head at the origin')
    assert.ok(!origin.received().toString('latin1').endsWith('hello'))
    c.write('hello')
    const res = await c.response()
    assert.equal(res.status, 200)
    assert.equal(res.body.toString(), 'ok')
  })

  it('by default, holds the head back until the body (up to bodyBuffer) has arrived, then sends both at once', async (t) => {
    const origin = await startRawOrigin(
      (conn) => {
        if (conn.data.toString('latin1').endsWith('\r\n\r\nhello'))
          conn.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('POST /late HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\n\r\n')
    await new Promise((r) => setTimeout(r, 100))
    // No upstream connection is taken for a body that has not come yet (slow uploads cannot hold the pool).
    assert.equal(origin.connections.length, 0)
    c.write('hello')
    const res = await c.response()
    assert.equal(res.status, 200)
    assert.equal(origin.connections.length, 1)
    assert.match(
      origin.connections[0]!.data.toString('latin1'),
      /^POST \/late HTTP\/1\.1\r\n[^]*\r\n\r\nhello$/,
    )
  })
})
