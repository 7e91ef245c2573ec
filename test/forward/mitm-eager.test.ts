/**
 * When an intercepted destination's upstream connection opens
 * (`mitm.connectionStrategy`): eager, while the client does its handshake
 * with us, and the first request takes that connection (one TCP and TLS
 * connection for the CONNECT, however the two race); lazy, at the first
 * request. Also: the 200 goes before the leaf is made, and a ClientHello
 * sent together with the CONNECT (read before TLS took the socket) still
 * completes, on any port and on a port whose first byte is sniffed.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { Duplex } from 'node:stream'
import { test } from 'node:test'
import tls from 'node:tls'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { startForward, waitFor } from '../helpers/forward.ts'
import { mitmFixture, startHttpsOrigin } from '../helpers/https-origin.ts'

const skip = !(await hasOpenssl()) && 'needs openssl'

/** The local CA, and HTTPS origins (one certificate) counting the TLS connections they accepted. */
async function setup(t: import('node:test').TestContext) {
  const f = await mitmFixture(t)
  async function origin() {
    const seen = { connections: 0 }
    const { port, server } = await startHttpsOrigin(t, (req, res) => res.end(`secure ${req.url}`), f.cert)
    server.on('secureConnection', () => seen.connections++)
    return { port, seen }
  }
  return { caDir: f.caDir, ca: f.caPem, originCert: f.cert.certPath, origin, ...(await origin()) }
}

/** proxyFor: a forward proxy intercepting 127.0.0.1, trusting the origins' certificate. */
function proxyFor(
  t: import('node:test').TestContext,
  s: { caDir: string; originCert: string },
  connectionStrategy: 'eager' | 'lazy' = 'eager',
  sniffPorts: number[] = [80],
) {
  return startForward(
    {
      allow: ['127.0.0.1'],
      mitm: {
        caDir: s.caDir,
        hosts: ['127.0.0.1'],
        upstreamCa: s.originCert,
        connectionStrategy,
        sniffPorts,
      },
    },
    { t },
  )
}

/** tunnel: CONNECT to 127.0.0.1:port through the proxy, then TLS verified against the local CA. */
async function tunnel(
  proxyPort: number,
  port: number,
  ca: string,
  eagerHello = false,
): Promise<tls.TLSSocket> {
  const raw = net.connect(proxyPort, '127.0.0.1')
  const connect = `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`
  if (!eagerHello) {
    raw.write(connect)
    const answer = await new Promise<string>((r) => raw.once('data', (d: Buffer) => r(d.toString('latin1'))))
    assert.equal(answer, 'HTTP/1.1 200 Connection Established\r\n\r\n')
    const secure = tls.connect({ socket: raw, ca, host: '127.0.0.1' })
    await new Promise<void>((r, j) => (secure.once('secureConnect', r), secure.once('error', j)))
    return secure
  }
  // The CONNECT and the ClientHello in one write: the proxy reads both before TLS takes the socket.
  let sent = false
  let head = Buffer.alloc(0)
  let answered = false
  const carrier = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      raw.write(sent ? chunk : Buffer.concat([Buffer.from(connect, 'latin1'), chunk]), done)
      sent = true
    },
    final(done) {
      raw.end()
      done()
    },
    destroy(err, done) {
      raw.destroy()
      done(err)
    },
  })
  raw.on('data', (d: Buffer) => {
    if (answered) return void carrier.push(d)
    head = Buffer.concat([head, d])
    const end = head.indexOf('\r\n\r\n')
    if (end === -1) return
    answered = true
    assert.equal(head.toString('latin1', 0, end + 4), 'HTTP/1.1 200 Connection Established\r\n\r\n')
    if (end + 4 < head.length) carrier.push(head.subarray(end + 4))
  })
  raw.on('end', () => carrier.push(null))
  const secure = tls.connect({ socket: carrier, ca, host: '127.0.0.1' })
  await new Promise<void>((r, j) => (secure.once('secureConnect', r), secure.once('error', j)))
  return secure
}

/** get sends one GET on an intercepted connection and returns the answer's body. */
function get(secure: tls.TLSSocket, port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const onData = (d: Buffer) => {
      text += d.toString('latin1')
      const m = /content-length: (\d+)\r\n/i.exec(text)
      const end = text.indexOf('\r\n\r\n')
      if (m !== null && end !== -1 && text.length >= end + 4 + Number(m[1])) {
        secure.off('data', onData)
        resolve(text.slice(end + 4))
      }
    }
    secure.on('data', onData)
    secure.once('error', reject)
    secure.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
  })
}

test(
  'eager: the origin is connected during the client handshake, and the requests use that connection',
  { skip },
  async (t) => {
    const s = await setup(t)
    const fwd = await proxyFor(t, s)
    const secure = await tunnel(fwd.port, s.port, s.ca)
    t.after(() => secure.destroy())
    // No request sent yet: the connection is there already.
    assert.ok(await waitFor(() => s.seen.connections === 1), 'eager connection made before any request')
    assert.equal(await get(secure, s.port, '/one'), 'secure /one')
    assert.equal(await get(secure, s.port, '/two'), 'secure /two')
    assert.equal(s.seen.connections, 1)

    // A request racing the connection opened ahead takes it instead of opening a second one.
    const again = await s.origin()
    const racing = await tunnel(fwd.port, again.port, s.ca)
    t.after(() => racing.destroy())
    assert.equal(await get(racing, again.port, '/race'), 'secure /race')
    assert.equal(again.seen.connections, 1)
  },
)

test('lazy: no upstream connection until the first request', { skip }, async (t) => {
  const s = await setup(t)
  const fwd = await proxyFor(t, s, 'lazy')
  const secure = await tunnel(fwd.port, s.port, s.ca)
  t.after(() => secure.destroy())
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(s.seen.connections, 0)
  assert.equal(await get(secure, s.port, '/late'), 'secure /late')
  assert.equal(s.seen.connections, 1)
})

test(
  'a ClientHello sent with the CONNECT, before the 200, is intercepted all the same',
  { skip },
  async (t) => {
    const s = await setup(t)
    const fwd = await proxyFor(t, s)
    const secure = await tunnel(fwd.port, s.port, s.ca, true)
    t.after(() => secure.destroy())
    assert.equal(await get(secure, s.port, '/early'), 'secure /early')
  },
)

test(
  'TLS to a port of mitm.sniffPorts is intercepted too, with the ClientHello sent with the CONNECT or after',
  { skip },
  async (t) => {
    const s = await setup(t)
    const fwd = await proxyFor(t, s, 'eager', [s.port])
    for (const eagerHello of [false, true]) {
      const secure = await tunnel(fwd.port, s.port, s.ca, eagerHello)
      t.after(() => secure.destroy())
      assert.equal(await get(secure, s.port, `/sniffed-${eagerHello}`), `secure /sniffed-${eagerHello}`)
    }
  },
)
