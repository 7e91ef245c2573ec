/**
 * Response compression (src/modules/compress) over real sockets, with real
 * node:http origins and a raw client that sees the exact framing: round
 * trips for each coding, Accept-Encoding q-values, Vary, every rule that
 * leaves a response untouched, HTTP/1.0 and keep-alive framing, server-sent
 * events, per-route overrides and an upstream that fails mid-body. Large
 * bodies and memory: compress-large.test.ts.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it, type TestContext } from 'node:test'
import zlib from 'node:zlib'
import type { GatewayConfigInput } from '../../src/config/schema.ts'
import { zstdAvailable } from '../../src/modules/compress/encoders.ts'
import {
  type GatewayHandle,
  type OriginHandle,
  proxyConfig,
  startGateway,
  startOrigin,
  waitFor,
  waitForGatewayIdle,
} from '../helpers/gateway.ts'
import { type ClientResponse, RawClient } from '../helpers/raw-client.ts'

/** 64 KiB of text that compresses the way HTML does (about 4:1 with gzip). */
const TEXT = (() => {
  const words =
    'the quick brown fox jumps over lazy dogs while proxies compress every response they can'.split(' ')
  let s = ''
  for (let i = 0; s.length < 64 * 1024; i++) s += `${words[(i * 7919) % words.length]} ${i % 977} `
  return Buffer.from(s.slice(0, 64 * 1024))
})()

const decode: Record<string, (b: Buffer) => Buffer> = {
  gzip: (b) => zlib.gunzipSync(b),
  br: (b) => zlib.brotliDecompressSync(b),
  zstd: (b) => zlib.zstdDecompressSync(b),
}

/** The scenarios the origin plays, by path. */
function originHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = req.url!.split('?')[0]!
  const html = { 'Content-Type': 'text/html; charset=utf-8' }
  switch (path) {
    case '/text':
      res.writeHead(200, { ...html, ETag: '"v1"', 'Accept-Ranges': 'bytes', 'Content-Length': TEXT.length })
      res.end(TEXT)
      return
    case '/vary':
      res.writeHead(200, { ...html, Vary: 'Origin' }).end(TEXT)
      return
    case '/small':
      res.writeHead(200, { ...html, 'Content-Length': 100 }).end(TEXT.subarray(0, 100))
      return
    case '/png':
      res.writeHead(200, { 'Content-Type': 'image/png' }).end(TEXT)
      return
    case '/encoded': {
      const gz = zlib.gzipSync(TEXT)
      res.writeHead(200, { ...html, 'Content-Encoding': 'gzip', 'Content-Length': gz.length }).end(gz)
      return
    }
    case '/no-transform':
      res.writeHead(200, { ...html, 'Cache-Control': 'public, no-transform' }).end(TEXT)
      return
    case '/range': {
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
      if (m === null) {
        res.writeHead(200, { ...html, 'Accept-Ranges': 'bytes' }).end(TEXT)
        return
      }
      const [from, to] = [Number(m[1]), Number(m[2])]
      res.writeHead(206, { ...html, 'Content-Range': `bytes ${from}-${to}/${TEXT.length}` })
      res.end(TEXT.subarray(from, to + 1))
      return
    }
    case '/chunked': {
      // No Content-Length: node sends it chunked, in pieces a tick apart.
      res.writeHead(200, { 'Content-Type': 'application/json' })
      let i = 0
      const next = () => {
        if (i === 4) return res.end()
        res.write(TEXT.subarray(i * 16384, ++i * 16384))
        setTimeout(next, 5)
      }
      next()
      return
    }
    case '/endless': {
      res.writeHead(200, html)
      const pump = () => {
        while (res.write(TEXT)) if (res.destroyed) return
        res.once('drain', pump)
      }
      pump()
      return
    }
    case '/fail':
      res.writeHead(200, { ...html, 'Content-Length': TEXT.length * 2 })
      res.write(TEXT, () => setTimeout(() => res.socket?.destroy(), 50))
      return
    default:
      res.writeHead(200, html).end(TEXT)
  }
}

/** request sends one request on a new connection and reads the response. */
async function request(
  t: TestContext,
  gw: GatewayHandle,
  path: string,
  headers: Record<string, string> = {},
  options: { method?: string; version?: '1.0' | '1.1' } = {},
): Promise<ClientResponse & { client: RawClient }> {
  const client = await RawClient.connect(gw.port, t)
  const method = options.method ?? 'GET'
  let head = `${method} ${path} HTTP/${options.version ?? '1.1'}\r\nHost: test\r\n`
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
  client.write(`${head}\r\n`)
  const res = await client.response({ head: method === 'HEAD' })
  return { ...res, client }
}

/** assertUntouched checks the response is exactly what the origin sent (bar hop-by-hop and Via). */
function assertUntouched(res: ClientResponse, body: Buffer): void {
  assert.equal(res.headers['content-encoding'], undefined)
  assert.deepEqual(res.body, body)
}

describe('compression through the proxy', () => {
  let origin: OriginHandle
  let gw: GatewayHandle

  before(async () => {
    origin = await startOrigin(originHandler)
    gw = await startGateway(proxyConfig(origin.url, { compression: { enabled: true } }))
  })
  after(async () => {
    await gw.close()
    await origin.close()
  })

  for (const coding of ['gzip', 'br', 'zstd'] as const) {
    it(
      `round-trips ${coding}: same bytes after decoding, chunked, Content-Length dropped`,
      {
        skip: coding === 'zstd' && !zstdAvailable && 'this Node has no zstd',
      },
      async (t) => {
        const res = await request(t, gw, '/text', { 'Accept-Encoding': coding })
        assert.equal(res.status, 200)
        assert.equal(res.headers['content-encoding'], coding)
        assert.equal(res.headers['content-length'], undefined)
        assert.equal(res.framing, 'chunked')
        assert.equal(res.headers.vary, 'Accept-Encoding')
        assert.ok(res.body.length < TEXT.length / 2, `compressed to ${res.body.length} bytes`)
        assert.deepEqual(decode[coding]!(res.body), TEXT)
      },
    )
  }

  it('weakens a strong ETag and drops Accept-Ranges when it compresses', async (t) => {
    const res = await request(t, gw, '/text', { 'Accept-Encoding': 'gzip' })
    assert.equal(res.headers.etag, 'W/"v1"')
    assert.equal(res.headers['accept-ranges'], undefined)
    const plain = await request(t, gw, '/text')
    assert.equal(plain.headers.etag, '"v1"', 'identity responses keep the strong ETag')
    assert.equal(plain.headers['accept-ranges'], 'bytes')
  })

  it('offers br first to a browser (server order on equal weights)', async (t) => {
    const res = await request(t, gw, '/text', { 'Accept-Encoding': 'gzip, deflate, br, zstd' })
    assert.equal(res.headers['content-encoding'], 'br')
  })

  describe('q-values', () => {
    const cases: [string, string | undefined][] = [
      ['gzip;q=1, br;q=0.5', 'gzip'],
      ['br;q=0, gzip', 'gzip'],
      ['br;q=0', undefined],
      ['*;q=0, identity', undefined],
      ['identity;q=0', undefined],
      ['gzip, identity;q=0', 'gzip'],
      ['gzip;q=0.2, identity', undefined],
      ['deflate', undefined],
    ]
    for (const [accept, want] of cases) {
      it(`Accept-Encoding: ${accept} → ${want ?? 'identity'}`, async (t) => {
        const res = await request(t, gw, '/text', { 'Accept-Encoding': accept })
        assert.equal(res.status, 200)
        assert.equal(res.headers['content-encoding'], want)
        assert.equal(res.headers.vary, 'Accept-Encoding', 'the answer depended on Accept-Encoding')
        assert.deepEqual(want === undefined ? res.body : decode[want]!(res.body), TEXT)
        if (want === undefined) assert.equal(res.headers['content-length'], String(TEXT.length))
      })
    }

    it('reads Accept-Encoding spread over several field lines', async (t) => {
      const client = await RawClient.connect(gw.port, t)
      client.write(
        'GET /text HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br;q=0\r\nAccept-Encoding: gzip\r\n\r\n',
      )
      const res = await client.response()
      assert.equal(res.headers['content-encoding'], 'gzip')
    })
  })

  describe('Vary', () => {
    it('is added to identity responses too, so caches key on Accept-Encoding', async (t) => {
      const res = await request(t, gw, '/text')
      assertUntouched(res, TEXT)
      assert.equal(res.headers.vary, 'Accept-Encoding')
    })
    it('is merged into the origin’s Vary, not sent twice', async (t) => {
      const res = await request(t, gw, '/vary', { 'Accept-Encoding': 'gzip' })
      assert.equal(res.headers['content-encoding'], 'gzip')
      assert.equal(res.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'vary').length, 1)
      assert.equal(res.headers.vary, 'Origin, Accept-Encoding')
    })
    it('is not added for types that are never compressed', async (t) => {
      const res = await request(t, gw, '/png', { 'Accept-Encoding': 'gzip' })
      assert.equal(res.headers.vary, undefined)
    })
  })

  describe('responses left as they are', () => {
    it('an already encoded body: bytes and Content-Length unchanged', async (t) => {
      const res = await request(t, gw, '/encoded', { 'Accept-Encoding': 'br, gzip' })
      assert.equal(res.headers['content-encoding'], 'gzip')
      assert.equal(res.framing, 'length')
      assert.deepEqual(res.body, zlib.gzipSync(TEXT))
    })
    it('a 206 range response', async (t) => {
      const res = await request(t, gw, '/range', { 'Accept-Encoding': 'gzip', Range: 'bytes=100-4195' })
      assert.equal(res.status, 206)
      assert.equal(res.headers['content-range'], `bytes 100-4195/${TEXT.length}`)
      assert.equal(res.headers.vary, undefined)
      assertUntouched(res, TEXT.subarray(100, 4196))
    })
    it('a body below minSize', async (t) => {
      const res = await request(t, gw, '/small', { 'Accept-Encoding': 'gzip' })
      assertUntouched(res, TEXT.subarray(0, 100))
      assert.equal(res.headers['content-length'], '100')
      assert.equal(res.headers.vary, undefined)
    })
    it('a type not in the list', async (t) => {
      const res = await request(t, gw, '/png', { 'Accept-Encoding': 'gzip' })
      assertUntouched(res, TEXT)
    })
    it('Cache-Control: no-transform', async (t) => {
      const res = await request(t, gw, '/no-transform', { 'Accept-Encoding': 'gzip' })
      assertUntouched(res, TEXT)
    })
    it('a HEAD request: the origin’s Content-Length, no coding', async (t) => {
      const res = await request(t, gw, '/text', { 'Accept-Encoding': 'gzip' }, { method: 'HEAD' })
      assert.equal(res.status, 200)
      assert.equal(res.headers['content-encoding'], undefined)
      assert.equal(res.headers['content-length'], String(TEXT.length))
      assert.equal(await res.client.closedWithin(100), false, 'no body bytes follow the head')
      assert.equal(res.client.unread.length, 0)
    })
    it('server-sent events, by default', async (t) => {
      const sse = await startOrigin(
        (_req, res) => {
          res.writeHead(200, { 'Content-Type': 'text/event-stream' })
          res.end(`data: ${'x'.repeat(4000)}\n\n`)
        },
        { t },
      )
      const g = await startGateway(proxyConfig(sse.url, { compression: { enabled: true } }), { t })
      const res = await request(t, g, '/', { 'Accept-Encoding': 'gzip' })
      assert.equal(res.headers['content-encoding'], undefined)
      assert.equal(res.headers.vary, undefined)
    })
  })

  it('sends HTTP/1.0 clients a close-delimited compressed body', async (t) => {
    const res = await request(t, gw, '/text', { 'Accept-Encoding': 'gzip' }, { version: '1.0' })
    assert.equal(res.headers['content-encoding'], 'gzip')
    assert.equal(res.headers['transfer-encoding'], undefined)
    assert.equal(res.headers['content-length'], undefined)
    assert.equal(res.framing, 'close')
    assert.deepEqual(zlib.gunzipSync(res.body), TEXT)
  })

  it('compresses a chunked upstream response', async (t) => {
    const res = await request(t, gw, '/chunked', { 'Accept-Encoding': 'gzip' })
    assert.equal(res.headers['content-encoding'], 'gzip')
    assert.deepEqual(zlib.gunzipSync(res.body), TEXT)
  })

  it('keeps the connection usable: compressed and identity responses back to back', async (t) => {
    const client = await RawClient.connect(gw.port, t)
    const codings = ['br', 'gzip', undefined, 'gzip']
    for (const c of codings) {
      client.write(`GET /text HTTP/1.1\r\nHost: t\r\n${c ? `Accept-Encoding: ${c}\r\n` : ''}\r\n`)
      const res = await client.response()
      assert.equal(res.headers['content-encoding'], c)
      assert.deepEqual(c === undefined ? res.body : decode[c]!(res.body), TEXT)
    }
    assert.equal(await client.closedWithin(50), false)
  })

  it('frees the upstream connection when a client leaves a compressed body midway', async (t) => {
    const client = await RawClient.connect(gw.port, t)
    client.write('GET /endless HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\n\r\n')
    const bodyStarted = () => {
      const head = client.unread.indexOf('\r\n\r\n')
      return head !== -1 && client.unread.length > head + 4 + 16
    }
    await waitFor(bodyStarted, 'some compressed bytes')
    assert.match(client.unread.toString('latin1'), /content-encoding: br/i)
    client.destroy()
    await waitForGatewayIdle(gw.gw)
  })

  it('closes the connection when the upstream fails mid-body: never a truncated success', async (t) => {
    const client = await RawClient.connect(gw.port, t)
    client.write('GET /fail HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n')
    await assert.rejects(client.response(), /connection closed/)
    assert.equal(client.ended, true)
  })
})

describe('per-route settings', () => {
  async function gateway(t: TestContext, config: Partial<GatewayConfigInput>) {
    const origin = await startOrigin(originHandler, { t })
    return startGateway({ ...proxyConfig(origin.url), ...config }, { t })
  }
  const route = (path: string, compress?: unknown) =>
    ({ match: { path }, upstream: 'origin', ...(compress !== undefined && { compress }) }) as never

  it('`compress: true` turns it on for one route when the top level is off', async (t) => {
    const gw = await gateway(t, { routes: [route('/on', true), route('/')] })
    const on = await request(t, gw, '/on', { 'Accept-Encoding': 'gzip' })
    assert.equal(on.headers['content-encoding'], 'gzip')
    const off = await request(t, gw, '/text', { 'Accept-Encoding': 'gzip' })
    assertUntouched(off, TEXT)
    assert.equal(off.headers.vary, undefined, 'a route without compression adds nothing')
  })

  it('`compress: false` turns it off for one route', async (t) => {
    const gw = await gateway(t, {
      compression: { enabled: true },
      routes: [route('/off', false), route('/')],
    })
    assertUntouched(await request(t, gw, '/off', { 'Accept-Encoding': 'gzip' }), TEXT)
    const on = await request(t, gw, '/text', { 'Accept-Encoding': 'gzip' })
    assert.equal(on.headers['content-encoding'], 'gzip')
  })

  it('an object overrides the top-level keys it names', async (t) => {
    const gw = await gateway(t, {
      compression: { enabled: true },
      routes: [
        route('/small', { minSize: 50, encodings: ['gzip'] }),
        route('/png', { types: ['image/png'] }),
        route('/'),
      ],
    })
    const small = await request(t, gw, '/small', { 'Accept-Encoding': 'br, gzip' })
    assert.equal(small.headers['content-encoding'], 'gzip', 'only gzip offered, 100 bytes ≥ minSize 50')
    assert.deepEqual(zlib.gunzipSync(small.body), TEXT.subarray(0, 100))
    const png = await request(t, gw, '/png', { 'Accept-Encoding': 'br' })
    assert.equal(png.headers['content-encoding'], 'br')
  })

  it('uses the configured level', async (t) => {
    const gw = await gateway(t, {
      routes: [route('/text', { level: { gzip: 1 } }), route('/', { level: { gzip: 9 } })],
    })
    const fast = await request(t, gw, '/text', { 'Accept-Encoding': 'gzip' })
    const best = await request(t, gw, '/default', { 'Accept-Encoding': 'gzip' })
    assert.deepEqual(fast.body, zlib.gzipSync(TEXT, { level: 1, windowBits: 15, memLevel: 8 }))
    assert.ok(
      best.body.length < fast.body.length,
      `level 9 (${best.body.length}) < level 1 (${fast.body.length})`,
    )
  })

  it('flushes every chunk of server-sent events when they are listed by name', async (t) => {
    let finish!: () => void
    const sse = await startOrigin(
      (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' })
        res.write('data: first\n\n')
        finish = () => res.end('data: last\n\n')
      },
      { t },
    )
    const gw = await startGateway(
      { ...proxyConfig(sse.url), routes: [route('/', { types: ['text/event-stream'] })] },
      { t },
    )
    const req = http.get(`${gw.url}/events`, { headers: { 'Accept-Encoding': 'gzip' }, agent: false })
    t.after(() => req.destroy())
    const [res] = (await new Promise((resolve) => req.once('response', (r) => resolve([r])))) as [
      http.IncomingMessage,
    ]
    assert.equal(res.headers['content-encoding'], 'gzip')
    let text = ''
    const gunzip = res.pipe(zlib.createGunzip())
    gunzip.on('data', (d: Buffer) => (text += d.toString()))
    // The first event arrives decoded while the origin still holds the response open.
    await waitFor(() => text === 'data: first\n\n', 'the first event')
    finish()
    await new Promise((r) => gunzip.once('end', r))
    assert.equal(text, 'data: first\n\ndata: last\n\n')
  })
})
