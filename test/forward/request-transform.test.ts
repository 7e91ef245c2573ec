/**
 * The streaming request body transform (transformRequestBody) over real
 * sockets, through the forward proxy (absolute-form, plain HTTP origin) and
 * inside TLS interception (CONNECT, HTTPS origin): a 1 MiB body sent in 64
 * writes reaches the origin upper-cased, chunked, without Content-Length or
 * the old body's digest; a request without the transform keeps its
 * Content-Length and bytes; a chunked body's trailers follow (digests
 * dropped); an origin that stops reading for a while still gets the whole
 * body once it reads again (the transform paused, then resumed); a
 * transform that fails is 500 HOOK_FAILED; a reverse route works the same;
 * a retry sends the transformed body again, and a whole-body rewrite as
 * well gets the transformed bytes; with `decode`, a gzip body is decoded for
 * the transform and gzip again upstream, one that does not decode is 400.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import type net from 'node:net'
import { connect as netConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { test } from 'node:test'
import { gunzipSync, gzipSync } from 'node:zlib'
import tls from 'node:tls'
import type { GatewayHooks } from '../../src/core/hooks.ts'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { transformRequestBody } from '../../src/forward/stream-body.ts'
import { rewriteRequestBody } from '../../src/forward/whole-body.ts'
import { hasOpenssl, makeSelfSigned } from '../fixtures/self-signed.ts'
import { startForward, waitFor } from '../helpers/forward.ts'
import { proxyConfig, startFlakyOrigin, startGateway, startOrigin } from '../helpers/gateway.ts'

const MIB = 1024 * 1024
/** 1 MiB of lower-case letters. */
const BODY = Buffer.alloc(MIB, 'abcdefghijklmnopqrstuvwxyz')
const UPPER = Buffer.from(BODY.toString('latin1').toUpperCase(), 'latin1')

/** upper: a transform that upper-cases latin1 bytes; `fail` makes it error after that many bytes. */
function upper(fail = Infinity): Transform {
  let seen = 0
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length
      if (seen > fail) return done(new Error('transform gave up'))
      done(null, Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1'))
    },
  })
}

/** The hooks of these tests: `x-transform: upper` (or `fail`) asks for the transform; what was asked is recorded. */
function hooks(asked: string[]): GatewayHooks {
  return {
    onRequest(session) {
      const how = session.header('x-transform')
      if (how === undefined) return
      const fail = how === 'fail' ? 100_000 : Infinity
      const ok = transformRequestBody(session, upper(fail), { decode: how === 'decode' })
      asked.push(`${session.source} ${ok}`)
    },
  }
}

/** A response: status and body. */
interface Answer {
  status: number
  body: string
}

/**
 * sendBody sends BODY with `headers` (Content-Length unless chunked) in 64
 * writes on `req`, trailers added for a chunked one, and resolves with the
 * answer.
 */
async function sendBody(req: http.ClientRequest, trailers?: Record<string, string>): Promise<Answer> {
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('latin1')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
  const piece = BODY.length / 64
  for (let i = 0; i < 64; i++)
    if (!req.write(BODY.subarray(i * piece, (i + 1) * piece))) await once(req, 'drain')
  if (trailers !== undefined) req.addTrailers(trailers)
  req.end()
  return answer
}

/** answerOf sends `body` whole on `req` and resolves with the answer. */
function answerOf(req: http.ClientRequest, body: Buffer): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('latin1')
      res.on('data', (d: string) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode!, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** fieldsFor: the request's header fields; chunked with a Trailer field, or with Content-Length. */
function fieldsFor(transform: string | undefined, chunked: boolean): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'text/plain', 'content-digest': 'sha-256=:x:' }
  if (transform !== undefined) h['x-transform'] = transform
  if (chunked) h.trailer = 'X-Checksum, Digest'
  else h['content-length'] = String(BODY.length)
  return h
}

const TRAILERS = { 'X-Checksum': 'abc', Digest: 'sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=' }

test('through the forward proxy: the body reaches the origin transformed and chunked; without the transform as sent', async (t) => {
  let paused = false
  const origin = await startOrigin(
    (req, res, record) => {
      if (record.url === '/slow') {
        // Stops reading for a while: the gateway must hold off (not buffer the rest), then go on.
        req.pause()
        paused = true
        setTimeout(() => req.resume(), 300)
      }
      req.on('end', () => res.end('ok'))
    },
    { t },
  )
  const asked: string[] = []
  const fwd = await startForward({ allow: ['127.0.0.1'] }, { t, hooks: hooks(asked) })
  const to = (path: string, headers: Record<string, string>) =>
    http.request({
      host: '127.0.0.1',
      port: fwd.port,
      method: 'POST',
      path: `http://127.0.0.1:${origin.port}${path}`,
      headers,
      agent: false,
    })

  let r = await sendBody(to('/', fieldsFor('upper', false)))
  assert.deepEqual(r, { status: 200, body: 'ok' })
  let seen = origin.requests.at(-1)!
  assert.ok(seen.body.equals(UPPER), 'the origin got the body upper-cased')
  assert.equal(seen.headers['transfer-encoding'], 'chunked')
  assert.equal(seen.headers['content-length'], undefined)
  assert.equal(seen.headers['content-digest'], undefined, 'a digest of the old body goes')
  assert.equal(seen.headers['content-type'], 'text/plain')

  // Without the transform: as sent, with its Content-Length (and its digest).
  r = await sendBody(to('/', fieldsFor(undefined, false)))
  assert.equal(r.status, 200)
  seen = origin.requests.at(-1)!
  assert.ok(seen.body.equals(BODY))
  assert.equal(seen.headers['content-length'], String(BODY.length))
  assert.equal(seen.headers['transfer-encoding'], undefined)
  assert.equal(seen.headers['content-digest'], 'sha-256=:x:')

  // A chunked body: its trailers follow the transformed body, the digest among them dropped.
  r = await sendBody(to('/', fieldsFor('upper', true)), TRAILERS)
  assert.equal(r.status, 200)
  seen = origin.requests.at(-1)!
  assert.ok(seen.body.equals(UPPER))
  assert.equal(seen.headers['transfer-encoding'], 'chunked')
  assert.deepEqual(seen.rawTrailers, ['X-Checksum', 'abc'])

  // An origin that stops reading: the body still arrives whole once it reads again.
  r = await sendBody(to('/slow', fieldsFor('upper', false)))
  assert.equal(r.status, 200)
  assert.ok(paused)
  seen = origin.requests.at(-1)!
  assert.equal(seen.complete, true)
  assert.ok(seen.body.equals(UPPER), 'paused and resumed, nothing lost or reordered')

  // A transform that fails: 500 HOOK_FAILED, the origin never gets a complete body.
  const before = origin.requests.filter((q) => q.complete).length
  r = await sendBody(to('/', fieldsFor('fail', false))).catch((err: Error) => ({
    status: 0,
    body: err.message,
  }))
  assert.ok(r.status === 500 || r.status === 0, `failed: ${r.status} ${r.body}`)
  if (r.status === 500) assert.match(r.body, /HOOK_FAILED/)
  await new Promise((res) => setTimeout(res, 50))
  assert.equal(origin.requests.filter((q) => q.complete).length, before, 'no complete body upstream')
  assert.deepEqual(asked, ['forward true', 'forward true', 'forward true', 'forward true'])
})

test('a reverse route: the same transform; a request without a body is not transformed', async (t) => {
  const origin = await startOrigin(undefined, { t })
  const asked: string[] = []
  const gw = await startGateway(proxyConfig(origin.url), { t, hooks: hooks(asked) })
  const to = (headers: Record<string, string>, method = 'POST') =>
    http.request({ host: '127.0.0.1', port: gw.port, method, path: '/', headers, agent: false })
  const r = await sendBody(to(fieldsFor('upper', false)))
  assert.equal(r.status, 200)
  const seen = origin.requests.at(-1)!
  assert.ok(seen.body.equals(UPPER))
  assert.equal(seen.headers['transfer-encoding'], 'chunked')
  assert.equal(seen.headers['content-length'], undefined)
  const get = to({ 'x-transform': 'upper' }, 'GET')
  get.end()
  const [res] = (await once(get, 'response')) as [http.IncomingMessage]
  res.resume()
  assert.equal(res.statusCode, 200)
  assert.equal(origin.requests.at(-1)!.headers['transfer-encoding'], undefined)
  assert.deepEqual(asked, ['reverse true', 'reverse false'])

  // A client that leaves mid-body: the transform is let go of, no connection stays open.
  const gone = netConnect(gw.port, '127.0.0.1')
  await once(gone, 'connect')
  gone.write(`POST / HTTP/1.1\r\nHost: t\r\nX-Transform: upper\r\nContent-Length: ${MIB}\r\n\r\n`)
  gone.write(BODY.subarray(0, 100_000))
  assert.ok(await waitFor(() => origin.requests.length === 3), 'the head went upstream')
  gone.destroy()
  assert.ok(await waitFor(() => gw.gw.stats().connections === 0, 5000), 'the gateway let go of everything')
  assert.equal(origin.requests.at(-1)!.complete, false, 'the origin never got a whole body')
  assert.deepEqual(asked, ['reverse true', 'reverse false', 'reverse true'])
})

test('a retry after a 503 sends the transformed body again; a whole-body rewrite gets the transformed bytes', async (t) => {
  const origin = await startFlakyOrigin({ t })
  const config = proxyConfig(origin.url)
  ;(config.upstreams as Record<string, Record<string, unknown>>).origin!.retries = {
    attempts: 2,
    backoff: { base: '1ms', max: '2ms' },
  }
  const gw = await startGateway(config, {
    t,
    hooks: {
      onRequest(session) {
        transformRequestBody(session, upper())
        if (session.path === '/whole') rewriteRequestBody(session, (b) => `[${b}]`)
      },
    },
  })
  const put = (path: string, body: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'PUT', path, agent: false })
      req.on('response', (res) => (res.resume(), res.on('end', () => resolve(res.statusCode!))))
      req.on('error', reject)
      req.write(body.slice(0, 3))
      setTimeout(() => req.end(body.slice(3)), 20)
    })
  assert.equal(await put('/flaky', 'hello world'), 200)
  const tries = origin.requests.slice(-2)
  assert.equal(tries.length, 2)
  for (const tr of tries) {
    assert.equal(tr.body.toString(), 'HELLO WORLD')
    assert.equal(tr.headers['transfer-encoding'], 'chunked')
  }
  assert.equal(await put('/whole', 'abc def'), 200)
  const seen = origin.requests.at(-1)!
  assert.equal(seen.body.toString(), '[ABC DEF]', 'the rewrite ran on the transformed body')
  assert.equal(seen.headers['content-length'], '9', 'a whole body has a length again')
})

const skip = !(await hasOpenssl()) && 'needs openssl'

test(
  'inside TLS interception: the body reaches the HTTPS origin transformed and chunked',
  { skip },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-reqtransform-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    await createCa(join(dir, 'ca'))
    const cert = await makeSelfSigned(dir)
    const seen: { headers: http.IncomingHttpHeaders; body: Buffer; trailers: string[] }[] = []
    const origin = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      const parts: Buffer[] = []
      req.on('data', (d: Buffer) => parts.push(d))
      req.on('end', () => {
        seen.push({ headers: req.headers, body: Buffer.concat(parts), trailers: req.rawTrailers })
        res.end('done')
      })
    })
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
    t.after(() => new Promise<void>((r) => (origin.closeAllConnections(), origin.close(() => r()))))
    const port = (origin.address() as net.AddressInfo).port
    const asked: string[] = []
    const fwd = await startForward(
      {
        allow: ['127.0.0.1'],
        mitm: { caDir: join(dir, 'ca'), hosts: ['localhost'], upstreamCa: cert.certPath },
      },
      { t, hooks: hooks(asked) },
    )
    const ca = await readFile(join(dir, 'ca', 'ca.pem'))

    /** through opens a CONNECT tunnel and a TLS session in it (the gateway's leaf, trusted through the CA). */
    async function through(headers: Record<string, string>): Promise<http.ClientRequest> {
      const connect = http.request({
        host: '127.0.0.1',
        port: fwd.port,
        method: 'CONNECT',
        path: `localhost:${port}`,
        agent: false,
      })
      connect.end()
      const [res, socket] = (await once(connect, 'connect')) as [http.IncomingMessage, net.Socket]
      assert.equal(res.statusCode, 200)
      const secure = tls.connect({ socket, servername: 'localhost', ca })
      await once(secure, 'secureConnect')
      t.after(() => secure.destroy())
      return https.request({
        host: 'localhost',
        port,
        method: 'POST',
        path: '/',
        headers,
        createConnection: () => secure,
      })
    }

    let r = await sendBody(await through(fieldsFor('upper', false)))
    assert.deepEqual(r, { status: 200, body: 'done' })
    let got = seen.at(-1)!
    assert.ok(got.body.equals(UPPER), 'the origin got the body upper-cased')
    assert.equal(got.headers['transfer-encoding'], 'chunked')
    assert.equal(got.headers['content-length'], undefined)
    assert.equal(got.headers['content-digest'], undefined)

    r = await sendBody(await through(fieldsFor(undefined, false)))
    assert.equal(r.status, 200)
    got = seen.at(-1)!
    assert.ok(got.body.equals(BODY))
    assert.equal(got.headers['content-length'], String(BODY.length))
    assert.equal(got.headers['transfer-encoding'], undefined)

    r = await sendBody(await through(fieldsFor('upper', true)), TRAILERS)
    assert.equal(r.status, 200)
    got = seen.at(-1)!
    assert.ok(got.body.equals(UPPER))
    assert.deepEqual(got.trailers, ['X-Checksum', 'abc'])

    // decode: a gzip body is decoded for the transform and gzip again upstream, Content-Encoding kept.
    const gz = gzipSync(BODY)
    const gzFields = {
      'x-transform': 'decode',
      'content-encoding': 'gzip',
      'content-length': String(gz.length),
    }
    r = await answerOf(await through(gzFields), gz)
    assert.deepEqual(r, { status: 200, body: 'done' })
    got = seen.at(-1)!
    assert.equal(got.headers['content-encoding'], 'gzip')
    assert.equal(got.headers['transfer-encoding'], 'chunked')
    assert.ok(gunzipSync(got.body).equals(UPPER), 'decoded, upper-cased, gzip again')
    // A body that does not decode: 400, the origin gets no complete request.
    const before = seen.length
    r = await answerOf(await through({ ...gzFields, 'content-length': '12' }), Buffer.from('not gzip!!!!'))
    assert.equal(r.status, 400)
    assert.match(r.body, /MALFORMED_REQUEST/)
    assert.equal(seen.length, before)
    assert.deepEqual(asked, ['mitm true', 'mitm true', 'mitm true', 'mitm true'])
  },
)
