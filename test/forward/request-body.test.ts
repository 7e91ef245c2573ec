/**
 * The request whole-body hook (rewriteRequestBody) over real sockets: a
 * reverse route whose onRequest hook rewrites a JSON body, identity and
 * gzip-encoded (sent unencoded, or gzip again with `reencode`), always with
 * its new Content-Length; a body over the cap is 413 and a bad gzip 400,
 * neither reaching the origin; a retry after a 503 sends the rewritten body
 * again; an onUpstreamRequest hook asks once the connection is there; and a
 * request inside TLS interception is rewritten on its way to an HTTPS origin.
 * A chunked body's trailers follow the rewritten body (then chunked), minus
 * digests and fields no trailer may be, on every try.
 * A body in pieces is read whole before the head goes upstream; a client
 * leaving mid-body leaves nothing open and nothing reaches the origin.
 */
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import http from 'node:http'
import net from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { gunzipSync, gzipSync } from 'node:zlib'
import type { GatewayHooks } from '../../src/core/hooks.ts'
import { rewriteRequestBody } from '../../src/forward/whole-body.ts'
import type { UpstreamTryMessage } from '../../src/observe/channels.ts'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { curl, startForward, waitFor } from '../helpers/forward.ts'
import { proxyConfig, rawRequest, startFlakyOrigin, startGateway, startOrigin } from '../helpers/gateway.ts'
import { mitmFixture } from '../helpers/https-origin.ts'
import { send } from '../resilience/helpers.ts'

/** The hook of these tests: a JSON body gets `"seen": true`, reencoded when the path says so. */
function jsonHooks(where: 'onRequest' | 'onUpstreamRequest', maxSize = 1000): GatewayHooks {
  const ask = (session: Parameters<NonNullable<GatewayHooks['onRequest']>>[0]) => {
    if (session.header('content-type') !== 'application/json') return
    rewriteRequestBody(session, (body) => JSON.stringify({ ...JSON.parse(body.toString()), seen: true }), {
      maxSize,
      reencode: session.path === '/again',
    })
  }
  return where === 'onRequest' ? { onRequest: ask } : { onUpstreamRequest: (session) => ask(session) }
}

/** post sends `body` with these fields on a fresh connection and returns the raw response text. */
async function post(
  port: number,
  path: string,
  fields: string,
  body: Buffer,
  method = 'POST',
): Promise<string> {
  const head = `${method} ${path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n${fields}Connection: close\r\n\r\n`
  return (await rawRequest(port, [head, body], { timeout: 5000 })).text
}

/** retrying: `config` with two tries and a tiny backoff on its `origin` upstream. */
function retrying<C extends ReturnType<typeof proxyConfig>>(config: C): C {
  ;(config.upstreams as Record<string, Record<string, unknown>>).origin!.retries = {
    attempts: 2,
    backoff: { base: '1ms', max: '2ms' },
  }
  return config
}

/**
 * postInPieces sends a JSON POST whose body is `first` then, `pause` ms
 * later (`meanwhile` runs just before), `second`; resolves with all the
 * gateway answered once it closed.
 */
async function postInPieces(
  port: number,
  first: string,
  second: string,
  pause: number,
  meanwhile: () => void = () => {},
): Promise<string> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise((r) => socket.once('connect', r))
  let answer = ''
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')))
  const head = `POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${first.length + second.length}\r\nConnection: close\r\n\r\n`
  socket.write(head + first)
  await new Promise((r) => setTimeout(r, pause))
  meanwhile()
  socket.write(second)
  await new Promise((r) => socket.once('close', r))
  return answer
}

test('a JSON request body rewritten by onRequest: identity and gzip, sent with its new Content-Length', async (t) => {
  const origin = await startOrigin(undefined, { t })
  const gw = await startGateway(proxyConfig(origin.url), { t, hooks: jsonHooks('onRequest') })
  const json = Buffer.from('{"a":1}')

  let r = await post(gw.port, '/', `Content-Length: ${json.length}\r\nContent-Digest: sha-256=:x:\r\n`, json)
  assert.match(r, /^HTTP\/1\.1 200/)
  let seen = origin.requests.at(-1)!
  assert.equal(seen.body.toString(), '{"a":1,"seen":true}')
  assert.equal(seen.headers['content-length'], String(seen.body.length))
  assert.equal(seen.headers['content-digest'], undefined, 'a digest of the old body goes')

  // Chunked from the client: a known length upstream, no Transfer-Encoding.
  const chunked = Buffer.from(`3\r\n{"a\r\n4\r\n":2}\r\n0\r\n\r\n`)
  r = await post(gw.port, '/', 'Transfer-Encoding: chunked\r\n', chunked)
  assert.match(r, /^HTTP\/1\.1 200/)
  seen = origin.requests.at(-1)!
  assert.equal(seen.body.toString(), '{"a":2,"seen":true}')
  assert.equal(seen.headers['content-length'], String(seen.body.length))
  assert.equal(seen.headers['transfer-encoding'], undefined)

  // gzip: decoded for the hook, sent unencoded (Content-Encoding dropped) ...
  const gz = gzipSync('{"b":3}')
  r = await post(gw.port, '/', `Content-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n`, gz)
  assert.match(r, /^HTTP\/1\.1 200/)
  seen = origin.requests.at(-1)!
  assert.equal(seen.body.toString(), '{"b":3,"seen":true}')
  assert.equal(seen.headers['content-encoding'], undefined)
  assert.equal(seen.headers['content-length'], String(seen.body.length))

  // ... or gzip again with reencode, Content-Encoding kept.
  r = await post(gw.port, '/again', `Content-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n`, gz)
  assert.match(r, /^HTTP\/1\.1 200/)
  seen = origin.requests.at(-1)!
  assert.equal(seen.headers['content-encoding'], 'gzip')
  assert.equal(seen.headers['content-length'], String(seen.body.length))
  assert.equal(gunzipSync(seen.body).toString(), '{"b":3,"seen":true}')

  // Expect: 100-continue is answered by the gateway (the body is needed before the upstream is asked).
  const res = await rawRequest(
    gw.port,
    `POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
    { timeout: 500 },
  )
  assert.match(res.text, /^HTTP\/1\.1 100 Continue\r\n\r\n/)
})

test('trailers of a chunked body go on after the rewritten body (chunked), digests and forbidden ones dropped, again on a retry', async (t) => {
  const origin = await startFlakyOrigin({ t })
  const chunked = (trailers: string) => Buffer.from(`3\r\n{"a\r\n4\r\n":9}\r\n0\r\n${trailers}\r\n`)
  const trailers =
    'X-Checksum: abc\r\nDigest: sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\r\n' +
    'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\nAuthorization: Basic eDp5\r\nX-Signed-By: k1\r\n'
  const wanted = ['X-Checksum', 'abc', 'X-Signed-By', 'k1']
  for (const where of ['onRequest', 'onUpstreamRequest'] as const)
    for (const path of ['/', '/flaky']) {
      origin.rearm()
      const gw = await startGateway(retrying(proxyConfig(origin.url)), { t, hooks: jsonHooks(where) })
      const start = origin.requests.length
      const r = await post(
        gw.port,
        path,
        'Transfer-Encoding: chunked\r\nTrailer: X-Checksum, Digest\r\n',
        chunked(trailers),
        'PUT', // idempotent: retried after the 503
      )
      assert.match(r, /^HTTP\/1\.1 200/, `${where} ${path}`)
      const tries = origin.requests.slice(start)
      assert.equal(tries.length, path === '/' ? 1 : 2, `${where} ${path}: tries`)
      for (const seen of tries) {
        assert.equal(seen.complete, true)
        assert.equal(seen.body.toString(), '{"a":9,"seen":true}', path)
        assert.equal(seen.headers['transfer-encoding'], 'chunked', `${path}: chunked, to carry the trailers`)
        assert.equal(seen.headers['content-length'], undefined, path)
        assert.deepEqual(seen.rawTrailers, wanted, `${path}: the trailers, minus digests and Authorization`)
      }
      await gw.close()
    }
  // Only dropped ones: nothing to carry, so the body goes with its Content-Length.
  const gw = await startGateway(proxyConfig(origin.url), { t, hooks: jsonHooks('onRequest') })
  const r = await post(gw.port, '/', 'Transfer-Encoding: chunked\r\n', chunked('Digest: sha-256=:x:\r\n'))
  assert.match(r, /^HTTP\/1\.1 200/)
  const seen = origin.requests.at(-1)!
  assert.equal(seen.body.toString(), '{"a":9,"seen":true}')
  assert.equal(seen.headers['content-length'], String(seen.body.length))
  assert.equal(seen.headers['transfer-encoding'], undefined)
  assert.deepEqual(seen.rawTrailers, [])
})

test('over the cap: 413, a body that does not decode: 400; neither reaches the origin', async (t) => {
  const origin = await startOrigin(undefined, { t })
  const gw = await startGateway(proxyConfig(origin.url), { t, hooks: jsonHooks('onRequest', 100) })
  const big = Buffer.from(JSON.stringify({ x: 'y'.repeat(200) }))
  let r = await post(gw.port, '/', `Content-Length: ${big.length}\r\n`, big)
  assert.match(r, /^HTTP\/1\.1 413/)
  assert.match(r, /code: BODY_TOO_LARGE/)
  // A gzip body whose decoded size is over the cap is refused as well.
  const bomb = gzipSync(big)
  assert.ok(bomb.length < 100)
  r = await post(gw.port, '/', `Content-Encoding: gzip\r\nContent-Length: ${bomb.length}\r\n`, bomb)
  assert.match(r, /^HTTP\/1\.1 413/)
  const bad = Buffer.from('this is not gzip')
  r = await post(gw.port, '/', `Content-Encoding: gzip\r\nContent-Length: ${bad.length}\r\n`, bad)
  assert.match(r, /^HTTP\/1\.1 400/)
  assert.match(r, /code: MALFORMED_REQUEST/)
  assert.equal(origin.requests.length, 0)
  // A coding it cannot decode (a chain) is left alone: streamed as received.
  r = await post(gw.port, '/', `Content-Encoding: gzip, br\r\nContent-Length: ${bad.length}\r\n`, bad)
  assert.match(r, /^HTTP\/1\.1 200/)
  assert.equal(origin.requests.at(-1)!.body.toString(), 'this is not gzip')
})

test('a retry after a 503 sends the rewritten body again; onUpstreamRequest may ask too', async (t) => {
  let n = 0
  const origin = await startOrigin(
    (req, res, record) => {
      req.on('end', () => {
        res.statusCode = n++ === 0 ? 503 : 200
        res.end(record.body)
      })
    },
    { t },
  )
  const config = retrying(proxyConfig(origin.url))
  for (const where of ['onRequest', 'onUpstreamRequest'] as const) {
    n = 0
    const gw = await startGateway(config, { t, hooks: jsonHooks(where) })
    const start = origin.requests.length
    const r = await send(gw.url, 'PUT', '{"c":4}')
    assert.equal(r.status, 200, where)
    assert.equal(r.body, '{"c":4}', `${where}: no content-type, no rewrite`)
    n = 0
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(gw.url, {
        method: 'PUT',
        agent: false,
        headers: { 'content-type': 'application/json' },
      })
      req.on('response', (m) => {
        let body = ''
        m.on('data', (d) => (body += d))
        m.on('end', () => resolve({ status: m.statusCode!, body }))
      })
      req.on('error', reject)
      req.end('{"c":5}')
    })
    assert.equal(res.status, 200, where)
    assert.equal(res.body, '{"c":5,"seen":true}', where)
    const tries = origin.requests.slice(start + 2)
    assert.equal(tries.length, 2, `${where}: two tries`)
    for (const tr of tries) assert.equal(tr.body.toString(), '{"c":5,"seen":true}')
    await gw.close()
  }
})

test('a body arriving in pieces, and a client leaving mid-body: nothing sent upstream early, nothing left open', async (t) => {
  const origin = await startOrigin(undefined, { t })
  for (const where of ['onRequest', 'onUpstreamRequest'] as const) {
    // limits.bodyBuffer 0: the exchange starts at the head, not once the (small) body is read.
    const config = proxyConfig(origin.url, { limits: { bodyBuffer: 0 } })
    const gw = await startGateway(config, { t, hooks: jsonHooks(where) })
    const start = origin.requests.length
    const answer = await postInPieces(gw.port, '{"e"', ':7}', 100, () =>
      assert.equal(origin.requests.length, start, `${where}: no head upstream before the body is whole`),
    )
    assert.match(answer, /^HTTP\/1\.1 200/, where)
    assert.equal(origin.requests.at(-1)!.body.toString(), '{"e":7,"seen":true}')
    // Gone after half the body: the request never reaches the origin, the gateway lets go of everything.
    const gone = net.connect(gw.port, '127.0.0.1')
    await new Promise((r) => gone.once('connect', r))
    gone.write(
      'POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{"f":',
    )
    await new Promise((r) => setTimeout(r, 50))
    gone.destroy()
    await waitFor(() => gw.gw.stats().connections === 0)
    assert.equal(gw.gw.stats().connections, 0, where)
    assert.equal(origin.requests.length, start + 1, `${where}: the abandoned request never went upstream`)
    await gw.close()
  }
})

test('onUpstreamRequest: the connection held while the body arrives fails, the retry sends the same body once', async (t) => {
  const origin = await startOrigin(undefined, { t })
  let first = true
  origin.server.prependListener('connection', (socket: net.Socket) => {
    if (!first) return
    first = false
    setTimeout(() => socket.destroy(), 20) // closed while the gateway still reads the client's body
  })
  // limits.bodyBuffer 0: the exchange starts at the head, not once the (small) body is read.
  const config = retrying(proxyConfig(origin.url, { limits: { bodyBuffer: 0 } }))
  const gw = await startGateway(config, { t, hooks: jsonHooks('onUpstreamRequest') })
  const tries: string[] = []
  const onTry = (m: unknown) => void tries.push((m as UpstreamTryMessage).error?.code ?? 'ok')
  diagnostics.subscribe('portcullis:upstream:try', onTry)
  t.after(() => diagnostics.unsubscribe('portcullis:upstream:try', onTry))
  const answer = await postInPieces(gw.port, '{"g"', ':8}', 150)
  assert.match(answer, /^HTTP\/1\.1 200/)
  assert.deepEqual(
    origin.requests.map((r) => r.body.toString()),
    ['{"g":8,"seen":true}'],
  )
  assert.deepEqual(tries, ['UPSTREAM_RESET', 'ok'])
})

const skip = !(await hasOpenssl()) && 'needs openssl'

test(
  'inside TLS interception: the request body rewritten on its way to the HTTPS origin',
  { skip },
  async (t) => {
    const bodies: string[] = []
    const { dir, cert, port } = await mitmFixture(t, (req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        bodies.push(`${req.headers['content-length']} ${req.headers['content-encoding']} ${body}`)
        res.end('done')
      })
    })
    const hooks = jsonHooks('onRequest')
    const fwd = await startForward(
      {
        allow: ['127.0.0.1'],
        mitm: { caDir: join(dir, 'ca'), hosts: ['localhost'], upstreamCa: cert.certPath },
      },
      { t, hooks: { onRequest: (s) => (s.source === 'mitm' ? hooks.onRequest!(s) : undefined) } },
    )
    const gzFile = join(dir, 'body.gz')
    await (await import('node:fs/promises')).writeFile(gzFile, gzipSync('{"d":6}'))
    const r = await curl([
      '--cacert',
      join(dir, 'ca', 'ca.pem'),
      '-x',
      fwd.proxy,
      '-H',
      'content-type: application/json',
      '-H',
      'content-encoding: gzip',
      '--data-binary',
      `@${gzFile}`,
      `https://localhost:${port}/`,
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'done')
    assert.deepEqual(bodies, ['19 undefined {"d":6,"seen":true}'])
  },
)
