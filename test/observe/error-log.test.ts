/**
 * The error log says why an upstream failed: for a refused connection, an
 * untrusted certificate, a name that does not resolve and each timeout
 * (connect, response head, idle body, queue), one line with the stable code,
 * the cause, the target and the request id the client got, while the client
 * still sees only the code and the request id. Real origins on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createGateway } from '../../src/server/gateway.ts'
import { hasOpenssl, makeSelfSigned } from '../fixtures/self-signed.ts'

interface Answer {
  status: number
  id: string
  body: string
}

/** get asks the gateway and reads the whole answer (or what arrived before the connection was cut). */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers }, (res) => {
      let body = ''
      const answer = () => resolve({ status: res.statusCode!, id: String(res.headers['x-request-id']), body })
      res.setEncoding('utf8').on('data', (d: string) => (body += d))
      res.on('end', answer).on('aborted', answer).on('error', answer)
    })
    req.on('error', reject)
  })
}

type Line = Record<string, unknown>

let dir: string
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-errlog-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

let n = 0
/**
 * through runs one request through a gateway whose only upstream is
 * `target` (with `upstream` settings) and returns the answer and the error
 * log's lines, read after the gateway closed.
 */
async function through(
  target: string,
  upstream: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<{ answer: Answer; lines: Line[] }> {
  const file = join(dir, `error-${++n}.log`)
  const gw = await createGateway({
    listen: [{ address: '127.0.0.1:0' }],
    upstreams: { app: { targets: [{ url: target }], ...upstream } },
    routes: [{ name: 'r', upstream: 'app' }],
    proxy: { echoRequestId: true },
    log: { file, format: 'json' },
  })
  await gw.listen()
  try {
    const answer = await get(gw.addresses()[0]!.port, '/items?token=s3cret', headers)
    return { answer, lines: await linesOf(gw, file) }
  } finally {
    await gw.close()
  }
}

async function linesOf(gw: { close(): Promise<void> }, file: string): Promise<Line[]> {
  await gw.close()
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line)
}

/** failure finds the one upstream failure line and checks what every such line must say. */
function failure(lines: Line[], answer: Answer, code: string, target: string): Line {
  const found = lines.filter((l) => l.code === code)
  assert.equal(found.length, 1, JSON.stringify(lines))
  const line = found[0]!
  assert.equal(line.level, 'error')
  assert.equal(line.target, target)
  assert.equal(line.upstream, 'app')
  assert.equal(line.requestId, answer.id, 'the request id the client got')
  assert.equal(line.path, '/items', 'no query string (it may carry tokens)')
  assert.ok(!JSON.stringify(line).includes('s3cret'))
  return line
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })
}

/** silent starts a TCP server that accepts and never says anything; `onSocket` sees each connection. */
async function silent(onSocket: (s: net.Socket) => void = () => {}): Promise<net.Server> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    onSocket(s)
  })
  server.on('close', () => sockets.forEach((s) => s.destroy()))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return server
}

function closeAll(server: net.Server): Promise<void> {
  server.close()
  return new Promise((r) => setImmediate(r))
}

describe('error log: upstream failures with their cause', () => {
  it('refused: the errno and the address', async () => {
    const target = `http://127.0.0.1:${await freePort()}`
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736'
    const { answer, lines } = await through(target, {}, { traceparent: `00-${trace}-00f067aa0ba902b7-01` })
    assert.equal(answer.status, 502)
    const line = failure(lines, answer, 'UPSTREAM_CONNECT_REFUSED', target)
    assert.equal(line.errno, 'ECONNREFUSED')
    assert.match(String(line.cause), /connect ECONNREFUSED 127\.0\.0\.1:\d+/)
    assert.equal(line.traceId, trace, 'the trace id of the client traceparent')
    assert.equal(line.msg, 'upstream connect refused')
    assert.match(answer.body, /UPSTREAM_CONNECT_REFUSED/)
    assert.ok(!answer.body.includes('ECONNREFUSED'), answer.body)
  })

  it('TLS verification: the verify result and the target', async (t) => {
    if (!(await hasOpenssl())) return t.skip('no openssl to make a certificate')
    const cert = await makeSelfSigned(dir)
    const origin = https.createServer({ cert: cert.cert, key: cert.key }, (_req, res) => res.end('secret'))
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
    t.after(() => origin.close())
    const port = (origin.address() as AddressInfo).port
    const target = `https://127.0.0.1:${port}`
    const { answer, lines } = await through(target)
    assert.equal(answer.status, 502)
    const line = failure(lines, answer, 'UPSTREAM_CONNECT_FAILED', target)
    assert.equal(line.msg, 'upstream certificate verify failed')
    assert.match(
      String(line.cause),
      new RegExp(
        `^certificate verify failed: [A-Z_]+ / .*self-signed certificate for 127\\.0\\.0\\.1:${port}$`,
      ),
    )
    assert.ok(!/certificate|self-signed/i.test(answer.body), answer.body)
  })

  it('DNS: the name that did not resolve', async () => {
    // RFC 6761 §6.4: .invalid never resolves.
    const target = 'http://portcullis-test.invalid:8080'
    const { answer, lines } = await through(target)
    assert.equal(answer.status, 502)
    const line = failure(lines, answer, 'UPSTREAM_CONNECT_FAILED', target)
    assert.equal(line.msg, 'upstream DNS lookup failed')
    assert.match(String(line.cause), /^DNS lookup failed: (ENOTFOUND|EAI_AGAIN) portcullis-test\.invalid$/)
    assert.ok(!answer.body.includes('invalid'), answer.body)
  })

  it('connect timeout: a TLS origin that never answers the handshake', async (t) => {
    const origin = await silent()
    t.after(() => closeAll(origin))
    const target = `https://127.0.0.1:${(origin.address() as AddressInfo).port}`
    const { answer, lines } = await through(target, { timeouts: { connect: '300ms' } })
    assert.equal(answer.status, 504)
    const line = failure(lines, answer, 'UPSTREAM_CONNECT_TIMEOUT', target)
    assert.equal(line.timeout, 'connect')
    assert.match(String(line.cause), /^connect timeout after \d+ ms$/)
    assert.ok(!answer.body.includes('timeout after'), answer.body)
  })

  it('response timeout: an origin that reads the request and never answers', async (t) => {
    const origin = await silent()
    t.after(() => closeAll(origin))
    const target = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
    const { answer, lines } = await through(target, { timeouts: { response: '300ms' } })
    assert.equal(answer.status, 504)
    const line = failure(lines, answer, 'UPSTREAM_RESPONSE_TIMEOUT', target)
    assert.equal(line.timeout, 'response')
    assert.match(String(line.cause), /^response timeout after \d+ ms$/)
    assert.ok(!answer.body.includes('timeout after'), answer.body)
  })

  it('idle timeout: an origin that stops in the middle of the body', async (t) => {
    const origin = await silent((s) =>
      s.once('data', () => s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart of it')),
    )
    t.after(() => closeAll(origin))
    const target = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
    const { answer, lines } = await through(target, { timeouts: { idle: '300ms' } })
    assert.equal(answer.status, 200, 'the head had gone out; the body is cut')
    assert.equal(answer.body, 'part of it')
    const line = failure(lines, answer, 'UPSTREAM_IDLE_TIMEOUT', target)
    assert.equal(line.timeout, 'idle')
    assert.match(String(line.cause), /^idle timeout after \d+ ms$/)
  })

  it('queue timeout: no connection free in time', async (t) => {
    const origin = await silent()
    t.after(() => closeAll(origin))
    const target = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
    const file = join(dir, 'queue.log')
    const gw = await createGateway({
      listen: [{ address: '127.0.0.1:0' }],
      upstreams: {
        app: {
          targets: [{ url: target }],
          pool: { maxConnections: 1, queueTimeout: '300ms' },
          timeouts: { response: '5s' },
        },
      },
      routes: [{ upstream: 'app' }],
      log: { file, format: 'json' },
    })
    await gw.listen()
    const port = gw.addresses()[0]!.port
    const first = get(port, '/items').catch(() => undefined) // holds the one connection
    await new Promise((r) => setTimeout(r, 100))
    const answer = await get(port, '/items')
    assert.equal(answer.status, 503)
    const lines = await linesOf(gw, file)
    await first
    const line = failure(lines, answer, 'UPSTREAM_QUEUE_TIMEOUT', target)
    assert.equal(line.timeout, 'queue')
    assert.match(String(line.cause), /^queue timeout after \d+ ms$/)
    assert.ok(!answer.body.includes('timeout after'), answer.body)
  })
})

describe('error log: policy failures', () => {
  it('a JWKS server that cannot be reached: a warning with the URL (no query) and the cause', async (t) => {
    const file = join(dir, 'jwks.log')
    const jwks = `http://127.0.0.1:${await freePort()}/keys.json?secret=s3cret`
    const gw = await createGateway({
      listen: [{ address: '127.0.0.1:0' }],
      upstreams: { app: { targets: [{ url: `http://127.0.0.1:${await freePort()}` }] } },
      routes: [{ upstream: 'app', auth: { jwt: { jwks: { url: jwks, timeout: '500ms' } } } }],
      log: { file, format: 'json' },
    })
    await gw.listen()
    t.after(() => gw.close())
    const token = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4In0.c2ln'
    const answer = await get(gw.addresses()[0]!.port, '/items', { authorization: `Bearer ${token}` })
    assert.equal(answer.status, 503)
    const lines = await linesOf(gw, file)
    const line = lines.find((l) => String(l.msg).startsWith('JWKS fetch failed'))
    assert.ok(line, JSON.stringify(lines))
    assert.equal(line.level, 'warn')
    assert.equal(line.url, jwks.replace(/\?.*/, ''))
    assert.match(String(line.cause), /ECONNREFUSED|fetch failed/)
    const all = readFileSync(file, 'utf8')
    assert.ok(!all.includes('s3cret') && !all.includes(token), 'no query string, no token')
  })
})
