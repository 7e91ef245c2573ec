/**
 * Request framing over real sockets: every request the gateway must refuse
 * is answered with the right status, the connection is closed, and the
 * origin never sees a byte of it (a proxy that forwards what it cannot frame
 * exactly is a request-smuggling vector). Valid edge cases (pipelining,
 * chunked bodies with extensions and trailers) arrive intact.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type Cleanup,
  parseResponses,
  proxyConfig,
  type RawOriginHandle,
  rawRequest,
  startGateway,
  startOrigin,
  startRawOrigin,
  waitFor,
  waitForGatewayIdle,
} from '../helpers/gateway.ts'

const LIMITS = { maxHeadSize: 4096, maxTargetLength: 1024, maxBodySize: 1000, maxHeaders: 100 }

/** A raw origin that answers every complete-looking head with 200, so anything forwarded is visible. */
function answeringOrigin(t: Cleanup): Promise<RawOriginHandle> {
  return startRawOrigin(
    (conn) => {
      if (conn.data.includes('\r\n\r\n')) conn.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    },
    { t },
  )
}

async function setup(t: Cleanup) {
  const origin = await answeringOrigin(t)
  const gw = await startGateway(proxyConfig(origin.url, { limits: LIMITS }), { t })
  return { origin, gw }
}

const H = 'Host: example.test\r\n'

interface Rejection {
  name: string
  bytes: string
  status: number
  code: string
}

const REJECTIONS: Rejection[] = [
  // RFC 9112 §6.1, §6.3: framing fields.
  {
    name: 'Content-Length with Transfer-Encoding',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'Transfer-Encoding before Content-Length',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'duplicate identical Content-Length',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'differing Content-Length',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'Content-Length list',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'negative Content-Length',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'signed Content-Length',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'hex Content-Length',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\nhello`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'empty Content-Length',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'Transfer-Encoding gzip, chunked',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    status: 501,
    code: 'UNSUPPORTED_TRANSFER_CODING',
  },
  {
    name: 'Transfer-Encoding chunked, gzip',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'Transfer-Encoding identity',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'Transfer-Encoding chunked twice',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'Transfer-Encoding in HTTP/1.0',
    bytes: `POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  // RFC 9112 §7.1: a chunk size that is not hex (sent with the head in one write).
  {
    name: 'bad chunk size',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'chunk size with leading space',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  // RFC 9112 §2.2: line endings.
  {
    name: 'bare LF in the head',
    bytes: `GET / HTTP/1.1\n${H}\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'bare LF ending a field line',
    bytes: `GET / HTTP/1.1\r\n${H}X-A: 1\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'bare CR in the head',
    bytes: `GET / HTTP/1.1\r\n${H}X-A: 1\rX-B: 2\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  // RFC 9112 §5, RFC 9110 §5.5: field syntax.
  {
    name: 'invalid header name character',
    bytes: `GET / HTTP/1.1\r\n${H}X(A): 1\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'header name with @',
    bytes: `GET / HTTP/1.1\r\n${H}X@A: 1\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'NUL in a field value',
    bytes: `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'control character in a field value',
    bytes: `GET / HTTP/1.1\r\n${H}X-A: a\x01b\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'DEL in a field value',
    bytes: `GET / HTTP/1.1\r\n${H}X-A: a\x7fb\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'obs-fold',
    bytes: `GET / HTTP/1.1\r\n${H}X-A: one\r\n two\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'whitespace before the colon',
    bytes: `GET / HTTP/1.1\r\n${H}X-A : 1\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'whitespace before the colon of Content-Length',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length : 5\r\n\r\nhello`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  // RFC 9112 §3: request line and target.
  {
    name: 'absolute-form with userinfo',
    bytes: `GET http://user@example.test/ HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'absolute-form with a bad port',
    bytes: `GET http://example.test:8x/ HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'absolute-form with an invalid host character',
    bytes: `GET http://exa^mple.test/ HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'CONNECT on the reverse listener',
    bytes: 'CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n',
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'HTTP/2.0 request line',
    bytes: `GET / HTTP/2.0\r\n${H}\r\n`,
    status: 505,
    code: 'HTTP_VERSION_NOT_SUPPORTED',
  },
  {
    name: 'HTTP/1.2 request line',
    bytes: `GET / HTTP/1.2\r\n${H}\r\n`,
    status: 505,
    code: 'HTTP_VERSION_NOT_SUPPORTED',
  },
  {
    name: 'missing Host in HTTP/1.1',
    bytes: 'GET / HTTP/1.1\r\nX-A: 1\r\n\r\n',
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'two Host fields',
    bytes: `GET / HTTP/1.1\r\n${H}Host: other.test\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'double space in the request line',
    bytes: `GET  / HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  // Limits.
  {
    name: 'head larger than maxHeadSize',
    bytes: `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(LIMITS.maxHeadSize)}\r\n\r\n`,
    status: 431,
    code: 'HEAD_TOO_LARGE',
  },
  {
    name: 'more than maxHeaders fields',
    bytes: `GET / HTTP/1.1\r\n${H}${Array.from({ length: 100 }, (_, i) => `X-${i}: 1\r\n`).join('')}\r\n`,
    status: 431,
    code: 'TOO_MANY_HEADERS',
  },
  {
    name: 'target longer than maxTargetLength',
    bytes: `GET /${'a'.repeat(LIMITS.maxTargetLength)} HTTP/1.1\r\n${H}\r\n`,
    status: 414,
    code: 'TARGET_TOO_LONG',
  },
  {
    name: 'request line longer than maxHeadSize',
    bytes: `GET /${'a'.repeat(LIMITS.maxHeadSize + 10)} HTTP/1.1\r\n${H}\r\n`,
    status: 414,
    code: 'TARGET_TOO_LONG',
  },
  {
    name: 'Content-Length over maxBodySize',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: ${LIMITS.maxBodySize + 1}\r\n\r\n${'a'.repeat(LIMITS.maxBodySize + 1)}`,
    status: 413,
    code: 'BODY_TOO_LARGE',
  },
  {
    name: 'chunked body over maxBodySize',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${(LIMITS.maxBodySize + 1).toString(16)}\r\n${'a'.repeat(LIMITS.maxBodySize + 1)}\r\n0\r\n\r\n`,
    status: 413,
    code: 'BODY_TOO_LARGE',
  },
]

describe('rejected requests', () => {
  for (const r of REJECTIONS) {
    test(`${r.name} → ${r.status}, closed, origin untouched`, async (t) => {
      const { origin, gw } = await setup(t)
      const res = await rawRequest(gw.port, r.bytes)
      assert.equal(res.status, r.status, res.text)
      assert.ok(res.closed, 'the gateway closes the connection')
      const [parsed] = parseResponses(res.data)
      assert.ok(parsed, 'one parsed response')
      assert.match(parsed.headers.connection ?? '', /close/i)
      assert.match(parsed.body.toString(), new RegExp(`code: ${r.code}\\b`))
      assert.equal(origin.received().length, 0, `origin got: ${JSON.stringify(origin.received().toString())}`)
      await waitForGatewayIdle(gw.gw)
      assert.equal(origin.received().length, 0)
    })
  }

  test('a huge head written all at once still gets its 431 (no reset eats it)', async (t) => {
    const { origin, gw } = await setup(t)
    const res = await rawRequest(gw.port, `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(256 * 1024)}\r\n\r\n`)
    assert.equal(res.status, 431, res.text)
    assert.ok(res.closed)
    assert.equal(origin.received().length, 0)
  })

  test('missing CRLF after chunk data: the origin never gets a complete request', async (t) => {
    let upstreamClosed = false
    const origin = await startOrigin(
      (req) => {
        req.socket.on('close', () => {
          upstreamClosed = true
        })
        req.resume() // never answers
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url, { limits: { ...LIMITS, bodyBuffer: 0 } }), { t })
    const head = `POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`
    const out = await rawRequestInTwoParts(gw.port, head, '5\r\nworldXX0\r\n\r\n', async () => {
      // The head went upstream (with bodyBuffer 0 the gateway streams at once); wait until the origin has it.
      await waitFor(() => origin.requests.length === 1, 'forwarded head')
    })
    assert.equal(out.status, 400, out.text)
    assert.ok(out.closed)
    assert.match(out.text, /code: MALFORMED_REQUEST/)
    // The upstream request was cut short: its connection is closed and it never completed.
    await waitFor(() => upstreamClosed, 'upstream connection closed')
    await waitForGatewayIdle(gw.gw, { poolsEmpty: true })
    assert.equal(origin.requests.length, 1)
    assert.equal(origin.requests[0]!.complete, false)
  })
})

/** Writes `first`, runs `between`, writes `second`; collects the response like rawRequest. */
async function rawRequestInTwoParts(
  port: number,
  first: string,
  second: string,
  between: () => Promise<void>,
): Promise<{ text: string; status: number | undefined; closed: boolean }> {
  const net = await import('node:net')
  const socket = net.connect(port, '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (d: Buffer) => chunks.push(d))
  socket.on('error', () => {})
  const closed = new Promise<void>((r) => socket.on('close', () => r()))
  try {
    await new Promise<void>((r) => socket.on('connect', () => r()))
    socket.write(first, 'latin1')
    await between()
    socket.write(second, 'latin1')
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 2000).unref())
    const how = await Promise.race([closed.then(() => 'closed' as const), timer])
    const text = Buffer.concat(chunks).toString('latin1')
    return { text, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), closed: how === 'closed' }
  } finally {
    socket.destroy()
  }
}

describe('valid requests', () => {
  test('pipelined requests are answered in order', async (t) => {
    const origin = await startOrigin(
      (req, res) => {
        // Answer the first one last, so order comes from the gateway, not the origin.
        const delay = req.url === '/1' ? 100 : 0
        req.resume()
        req.on('end', () => setTimeout(() => res.end(`${req.method} ${req.url}`), delay))
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const res = await rawRequest(gw.port, [
      `GET /1 HTTP/1.1\r\n${H}\r\n`,
      `POST /2 HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello`,
      `POST /3 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      `GET /4 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
    ])
    const responses = parseResponses(res.data)
    assert.deepEqual(
      responses.map((r) => [r.status, r.body.toString()]),
      [
        [200, 'GET /1'],
        [200, 'POST /2'],
        [200, 'POST /3'],
        [200, 'GET /4'],
      ],
    )
    assert.ok(res.closed)
    assert.deepEqual(
      origin.requests.map((r) => r.body.toString()),
      ['', 'hello', 'abc', ''],
    )
    await waitForGatewayIdle(gw.gw)
  })

  test('a pipelined request after a rejected one is never forwarded', async (t) => {
    const { origin, gw } = await setup(t)
    const res = await rawRequest(
      gw.port,
      `GET / HTTP/1.1\r\n${H}X-A : 1\r\n\r\nGET /second HTTP/1.1\r\n${H}\r\n`,
    )
    assert.equal(res.status, 400)
    assert.equal(parseResponses(res.data).length, 1)
    assert.ok(res.closed)
    assert.equal(origin.received().length, 0)
  })

  test('chunked body with extensions and trailers arrives dechunked and rechunked', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const res = await rawRequest(
      gw.port,
      `POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\nConnection: close\r\n\r\n` +
        '5;ext=1\r\nhello\r\n6;a;b="q \\" x"\r\n world\r\n0;last\r\nX-Sum: abc\r\n\r\n',
    )
    assert.equal(res.status, 200, res.text)
    assert.equal(origin.requests.length, 1)
    const got = origin.requests[0]!
    assert.ok(got.complete)
    assert.equal(got.body.toString(), 'hello world')
    assert.match(String(got.headers['transfer-encoding']), /^chunked$/i)
    assert.deepEqual(got.rawTrailers, ['X-Sum', 'abc'])
  })

  test('chunked body bytes upstream carry no extension and a valid last chunk', async (t) => {
    const origin = await startRawOrigin(
      (conn) => {
        if (conn.data.includes('\r\n0\r\n')) conn.socket.end('HTTP/1.1 204 No Content\r\n\r\n')
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const res = await rawRequest(
      gw.port,
      `POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        '5;ext=1\r\nhello\r\n0\r\nX-Sum: abc\r\n\r\n',
    )
    assert.equal(res.status, 204, res.text)
    const sent = origin.received().toString('latin1')
    const body = sent.slice(sent.indexOf('\r\n\r\n') + 4)
    assert.equal(body, '5\r\nhello\r\n0\r\nX-Sum: abc\r\n\r\n')
    assert.doesNotMatch(sent, /ext=1/)
  })
})

describe('error responses', () => {
  test('text body names the code and the request id, which x-request-id repeats', async (t) => {
    const { gw } = await setup(t)
    const res = await rawRequest(gw.port, `GET / HTTP/1.1\r\n${H}X-A : 1\r\n\r\n`)
    const [r] = parseResponses(res.data)
    assert.ok(r)
    const id = r.headers['x-request-id']
    assert.ok(id && id.length > 0, 'x-request-id header')
    assert.match(r.headers['content-type'] ?? '', /^text\/plain/)
    const body = r.body.toString()
    assert.match(body, /code: MALFORMED_REQUEST/)
    assert.ok(body.includes(`request-id: ${id}`), body)
  })

  test('a rejected body gets JSON when the client accepts JSON, with its own request id', async (t) => {
    const { gw, origin } = await setup(t)
    const res = await rawRequest(
      gw.port,
      `POST / HTTP/1.1\r\n${H}Accept: application/json\r\nX-Request-Id: req-123\r\n` +
        'Transfer-Encoding: chunked\r\n\r\nzz\r\n',
    )
    const [r] = parseResponses(res.data)
    assert.ok(r)
    assert.equal(r.status, 400)
    assert.equal(r.headers['x-request-id'], 'req-123')
    assert.match(r.headers['content-type'] ?? '', /^application\/json/)
    assert.deepEqual(JSON.parse(r.body.toString()), {
      error: { status: 400, code: 'MALFORMED_REQUEST', requestId: 'req-123' },
    })
    assert.ok(res.closed)
    assert.equal(origin.received().length, 0)
  })

  test('413 for an oversized Content-Length honours Accept and the request id', async (t) => {
    const { gw, origin } = await setup(t)
    // The head is refused before it becomes a request, but it parsed: its fields still count.
    const res = await rawRequest(
      gw.port,
      `POST / HTTP/1.1\r\n${H}Accept: application/json\r\nX-Request-Id: big-1\r\nContent-Length: 5000\r\n\r\n`,
    )
    const [r] = parseResponses(res.data)
    assert.ok(r)
    assert.equal(r.status, 413)
    assert.equal(r.headers['x-request-id'], 'big-1')
    assert.deepEqual(JSON.parse(r.body.toString()), {
      error: { status: 413, code: 'BODY_TOO_LARGE', requestId: 'big-1' },
    })
    assert.ok(res.closed)
    assert.equal(origin.received().length, 0)
  })
})
