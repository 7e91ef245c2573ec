/**
 * TLS on both sides, over real sockets with certificates made at test time:
 * a TLS listener terminates HTTPS (X-Forwarded-Proto: https, keep-alive) and
 * an https:// upstream target is reached over verified TLS.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import tls, { type TLSSocket } from 'node:tls'
import { createGateway, type Gateway } from '../../src/server/gateway.ts'
import { hasOpenssl, makeSelfSigned, type SelfSigned } from '../fixtures/self-signed.ts'
import { waitFor } from '../helpers/gateway.ts'

const skip = (await hasOpenssl()) ? false : 'openssl is needed to make test certificates'

interface Seen {
  url: string
  headers: http.IncomingHttpHeaders
  /** The SNI name the TLS origin was asked for (false when none). */
  servername?: string | false | null
  bodyBytes: number
}

let dir: string
let gatewayCert: SelfSigned
let originCert: SelfSigned
let plainOrigin: http.Server
let tlsOrigin: https.Server
const seen: Seen[] = []
let gw: Gateway
let httpsBase: string
let httpBase: string
const defaultCAs = tls.getCACertificates('default')

function record(req: http.IncomingMessage, res: http.ServerResponse): void {
  let bodyBytes = 0
  req.on('data', (d: Buffer) => (bodyBytes += d.length))
  req.on('end', () => {
    const sock = req.socket as Partial<TLSSocket>
    seen.push({ url: req.url!, headers: req.headers, servername: sock.servername, bodyBytes })
    res.setHeader('content-type', 'text/plain')
    res.end(`origin got ${req.method} ${req.url} (${bodyBytes} bytes)`)
  })
}

before(async () => {
  if (skip) return
  dir = await mkdtemp(join(tmpdir(), 'portcullis-tls-'))
  gatewayCert = await makeSelfSigned(dir, 'gateway')
  originCert = await makeSelfSigned(dir, 'origin')
  plainOrigin = http.createServer(record)
  tlsOrigin = https.createServer({ cert: originCert.cert, key: originCert.key }, record)
  await new Promise<void>((r) => plainOrigin.listen(0, '127.0.0.1', r))
  await new Promise<void>((r) => tlsOrigin.listen(0, '127.0.0.1', r))
  const plainPort = (plainOrigin.address() as AddressInfo).port
  const tlsPort = (tlsOrigin.address() as AddressInfo).port
  gw = await createGateway({
    listen: [
      { address: '127.0.0.1:0', tls: { cert: gatewayCert.certPath, key: gatewayCert.keyPath } },
      { address: '127.0.0.1:0' },
    ],
    upstreams: {
      plain: { targets: [{ url: `http://127.0.0.1:${plainPort}` }] },
      byIp: { targets: [{ url: `https://127.0.0.1:${tlsPort}` }] },
      byName: { targets: [{ url: `https://localhost:${tlsPort}` }] },
      withCa: { targets: [{ url: `https://localhost:${tlsPort}` }], tls: { ca: originCert.certPath } },
      noVerify: { targets: [{ url: `https://localhost:${tlsPort}` }], tls: { verify: false } },
    },
    routes: [
      { match: { path: '/tls-ip' }, upstream: 'byIp' },
      { match: { path: '/tls-name' }, upstream: 'byName' },
      { match: { path: '/tls-ca' }, upstream: 'withCa' },
      { match: { path: '/tls-noverify' }, upstream: 'noVerify' },
      { upstream: 'plain' },
    ],
  })
  await gw.listen()
  const [secure, plain] = gw.addresses()
  assert.equal(secure!.tls, true)
  assert.equal(plain!.tls, false)
  httpsBase = `https://127.0.0.1:${secure!.port}`
  httpBase = `http://127.0.0.1:${plain!.port}`
})

after(async () => {
  if (skip) return
  tls.setDefaultCACertificates(defaultCAs)
  await gw?.close({ drainTimeout: 100 })
  for (const s of [plainOrigin, tlsOrigin]) {
    s?.closeAllConnections()
    await new Promise((r) => s?.close(r))
  }
  await rm(dir, { recursive: true, force: true })
})

interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  reusedSocket: boolean
}

/** request sends one request (https or http by URL) and reads the whole answer. */
function request(url: string, options: https.RequestOptions = {}, body?: Buffer): Promise<Reply> {
  const mod = url.startsWith('https:') ? https : http
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { ca: gatewayCert.cert, method: body ? 'POST' : 'GET', ...options })
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: text,
          reusedSocket: req.reusedSocket,
        }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** tlsOnlyGateway starts a gateway with just a TLS listener answering fixed responses. */
async function tlsOnlyGateway(timeouts: { head?: number }): Promise<Gateway> {
  const own = await createGateway({
    listen: [{ address: '127.0.0.1:0', tls: { cert: gatewayCert.certPath, key: gatewayCert.keyPath } }],
    routes: [{ respond: { body: 'fixed' } }],
    timeouts,
  })
  await own.listen()
  return own
}

describe('TLS listener', { skip }, () => {
  it('serves HTTPS with a verified certificate and tells the origin the scheme', async () => {
    const res = await request(`${httpsBase}/hello`, { agent: false })
    assert.equal(res.status, 200)
    assert.equal(res.body, 'origin got GET /hello (0 bytes)')
    const s = seen.at(-1)!
    assert.equal(s.headers['x-forwarded-proto'], 'https')
    assert.equal(s.headers['x-forwarded-for'], '127.0.0.1')

    const plain = await request(`${httpBase}/hello-plain`, { agent: false })
    assert.equal(plain.status, 200)
    assert.equal(seen.at(-1)!.headers['x-forwarded-proto'], 'http')
  })

  it('is refused by a client that does not trust the certificate, which frees the connection at once', async () => {
    // A gateway of its own: its close() must not wait for the refused handshake.
    const own = await tlsOnlyGateway({})
    try {
      const url = `https://127.0.0.1:${own.addresses()[0]!.port}/untrusted`
      await assert.rejects(
        request(url, { agent: false, ca: undefined }),
        (err: NodeJS.ErrnoException) => err.code === 'DEPTH_ZERO_SELF_SIGNED_CERT',
      )
    } finally {
      const t0 = performance.now()
      await own.close({ drainTimeout: 5000 })
      assert.ok(performance.now() - t0 < 1000, `close took ${Math.round(performance.now() - t0)} ms`)
    }
  })

  it('closes a connection that never completes the handshake after timeouts.head', async () => {
    const own = await tlsOnlyGateway({ head: 300 })
    try {
      const sock = net.connect(own.addresses()[0]!.port, '127.0.0.1')
      sock.on('error', () => {})
      await once(sock, 'connect')
      const t0 = performance.now()
      await once(sock, 'close')
      const waited = performance.now() - t0
      assert.ok(waited > 200 && waited < 2000, `closed after ${Math.round(waited)} ms`)
    } finally {
      await own.close({ drainTimeout: 100 })
    }
  })

  it('keeps a TLS connection alive across requests, bodies included', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: gatewayCert.cert })
    try {
      const replies: Reply[] = []
      for (let i = 0; i < 5; i++) {
        const body = i % 2 === 1 ? Buffer.alloc(256 * 1024 + i, 'b') : undefined
        replies.push(await request(`${httpsBase}/ka/${i}`, { agent }, body))
      }
      assert.deepEqual(
        replies.map((r) => r.status),
        [200, 200, 200, 200, 200],
      )
      assert.equal(replies[1]!.body, `origin got POST /ka/1 (${256 * 1024 + 1} bytes)`)
      assert.deepEqual(
        replies.map((r) => r.reusedSocket),
        [false, true, true, true, true],
      )
      assert.equal(gw.stats().connections, 1, 'one client connection served all five')
    } finally {
      agent.destroy()
    }
    await waitFor(() => gw.stats().connections === 0, 'the TLS connection to close')
  })

  it('drops a client that speaks plain HTTP to the TLS port and keeps serving', async () => {
    const port = gw.addresses()[0]!.port
    const sock = net.connect(port, '127.0.0.1')
    sock.on('error', () => {})
    await once(sock, 'connect')
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    const closed = once(sock, 'close')
    sock.resume()
    await closed
    await waitFor(() => gw.stats().connections === 0, 'no connection left')
    assert.equal((await request(`${httpsBase}/after`, { agent: false })).status, 200)
  })
})

describe('https:// upstream', { skip }, () => {
  it('verifies the upstream certificate by default: an untrusted one gives 502', async () => {
    const before = seen.length
    const res = await request(`${httpBase}/tls-ip/x`, { agent: false })
    assert.equal(res.status, 502)
    assert.match(res.body, /code: UPSTREAM_CONNECT_FAILED/)
    assert.ok(res.headers['x-request-id'])
    assert.equal(seen.length, before, 'the request never reached the origin')
  })

  it('trusts an upstream through its own tls.ca, and skips verification only where verify is false', async () => {
    // The process-wide CA list does not know the origin's certificate here.
    const viaCa = await request(`${httpBase}/tls-ca/a`, { agent: false })
    assert.equal(viaCa.status, 200)
    assert.equal(viaCa.body, 'origin got GET /tls-ca/a (0 bytes)')
    assert.equal(seen.at(-1)!.servername, 'localhost')
    const unverified = await request(`${httpBase}/tls-noverify/b`, { agent: false })
    assert.equal(unverified.status, 200)
    const refused = await request(`${httpBase}/tls-name/c`, { agent: false })
    assert.equal(refused.status, 502, 'no ca, verification on: refused')
  })

  it('reaches a trusted https origin by IP and by name, with SNI for names, reusing connections', async () => {
    // Trust the origin's self-signed certificate process-wide, as
    // NODE_EXTRA_CA_CERTS would (the per-upstream tls.ca is tested above).
    tls.setDefaultCACertificates([...defaultCAs, originCert.cert])
    for (let i = 0; i < 3; i++) {
      const res = await request(`${httpBase}/tls-ip/${i}`, { agent: false })
      assert.equal(res.status, 200)
      assert.equal(res.body, `origin got GET /tls-ip/${i} (0 bytes)`)
    }
    assert.equal(seen.at(-1)!.servername, false, 'no SNI for an IP literal (RFC 6066 §3)')

    const res = await request(`${httpsBase}/tls-name/y`, { agent: false }, Buffer.alloc(100_000, 'z'))
    assert.equal(res.status, 200)
    assert.equal(res.body, 'origin got POST /tls-name/y (100000 bytes)')
    const s = seen.at(-1)!
    assert.equal(s.servername, 'localhost')
    assert.equal(s.headers['x-forwarded-proto'], 'https')

    const pools = gw.stats().upstreams
    const byIp = Object.values(pools.byIp!)[0]!
    assert.equal(byIp.open, 1, 'three sequential requests shared one upstream TLS connection')
    assert.equal(byIp.idle, 1)
  })
})
