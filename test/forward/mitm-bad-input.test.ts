/**
 * Bad input to TLS interception, through a real forward proxy (the default
 * `connectionStrategy: eager`) to a real HTTPS origin that counts its
 * connections: garbage instead of TLS, a client refusing our CA (curl
 * without --cacert), no shared cipher, a client that leaves mid-handshake
 * (FIN or reset) or before sending anything, and handshakes that time out.
 * Each is closed, leaves no socket on either side, and says why exactly
 * once: `session.error` on the CONNECT's Session (what onLog and the access
 * log see) and one error log line with the stable code, OpenSSL's reason,
 * the destination and the CONNECT's request id, never a credential.
 * Garbage and silence cost no upstream connection at all.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import https from 'node:https'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import tls from 'node:tls'
import type { Session } from '../../src/core/session.ts'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { hasOpenssl, makeSelfSigned } from '../fixtures/self-signed.ts'
import { curl, startForward, waitFor } from '../helpers/forward.ts'

const skip = !(await hasOpenssl()) && 'needs openssl'

type Line = Record<string, unknown>

/** A TLS record header and the start of a ClientHello: a handshake begun, never finished. */
const PARTIAL_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03])

/** The CA, an HTTPS origin counting the TCP connections it accepted and holds open, a directory for logs. */
async function setup(t: import('node:test').TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-mitm-bad-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await createCa(join(dir, 'ca'))
  const cert = await makeSelfSigned(dir)
  const origin = https.createServer({ cert: cert.cert, key: cert.key }, (_req, res) => res.end('ok'))
  const seen = { total: 0, open: 0 }
  origin.on('connection', (s: net.Socket) => {
    seen.total++
    seen.open++
    s.once('close', () => seen.open--)
  })
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => (origin.closeAllConnections(), origin.close(() => r()))))
  const port = (origin.address() as net.AddressInfo).port
  return {
    dir,
    caDir: join(dir, 'ca'),
    caPem: join(dir, 'ca', 'ca.pem'),
    originCert: cert.certPath,
    port,
    seen,
  }
}

/** A forward proxy intercepting localhost, logging JSON lines at debug to `file`, its CONNECT sessions kept. */
async function proxy(
  t: import('node:test').TestContext,
  s: Awaited<ReturnType<typeof setup>>,
  file: string,
  head?: string,
) {
  const connects: Session[] = []
  const fwd = await startForward(
    { allow: ['127.0.0.1'], mitm: { caDir: s.caDir, hosts: ['localhost'], upstreamCa: s.originCert } },
    {
      t,
      hooks: { onLog: (session) => void (session.method === 'CONNECT' && connects.push(session)) },
      extra: {
        log: { file, format: 'json', level: 'debug' },
        ...(head !== undefined && { timeouts: { head } }),
      },
    },
  )
  return { fwd, connects }
}

/**
 * tunnel: a CONNECT to localhost:port (with a Proxy-Authorization the log
 * must never show) answered 200, then `after` on the raw socket; resolves
 * once the proxy closed it (false if it did not within 5 s).
 */
async function tunnel(
  proxyPort: number,
  port: number,
  after: (socket: net.Socket) => void,
): Promise<boolean> {
  const socket = net.connect(proxyPort, '127.0.0.1')
  socket.on('error', () => {})
  const closed = new Promise<boolean>((r) => socket.once('close', () => r(true)))
  socket.write(
    `CONNECT localhost:${port} HTTP/1.1\r\nHost: localhost:${port}\r\nProxy-Authorization: Basic c2VjcmV0LXBhc3M=\r\n\r\n`,
  )
  const answer = await new Promise<string>((r) => socket.once('data', (d: Buffer) => r(d.toString('latin1'))))
  assert.equal(answer, 'HTTP/1.1 200 Connection Established\r\n\r\n')
  after(socket)
  socket.resume() // reads the proxy's alerts, then its close
  const late = new Promise<boolean>((r) => setTimeout(() => r(false), 5000).unref())
  return Promise.race([closed, late])
}

/** mitmLines: the error log's lines about interceptions. */
async function mitmLines(file: string): Promise<Line[]> {
  const text = await readFile(file, 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => typeof l.msg === 'string' && l.msg.startsWith('mitm:'))
}

/** nthLine waits for the interception line of the `n`th failure and checks what every such line says. */
async function nthLine(file: string, n: number, connects: Session[], port: number): Promise<Line> {
  const end = Date.now() + 5000
  while ((await mitmLines(file)).length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
  assert.ok(await waitFor(() => connects.length >= n), `no CONNECT session ${n}`)
  const line = (await mitmLines(file))[n - 1]!
  const session = connects[n - 1]!
  assert.equal(session.status, 200, 'the CONNECT itself was answered')
  assert.equal(session.error?.code, line.code, 'onLog sees the same reason')
  assert.equal(line.requestId, session.id)
  assert.equal(line.destination, `localhost:${port}`)
  assert.equal(line.client, '127.0.0.1')
  assert.doesNotMatch(JSON.stringify(line), /c2VjcmV0|secret-pass/, 'no credential')
  return line
}

test(
  'garbage instead of TLS, a client refusing our CA, no shared cipher, a client leaving mid-handshake: closed, one log line each saying why, no socket left',
  { skip },
  async (t) => {
    const s = await setup(t)
    const file = join(s.dir, 'error.log')
    const { fwd, connects } = await proxy(t, s, file)
    let n = 0

    // Garbage: closed at its first byte, before any upstream connection (eager connects at a ClientHello only).
    assert.ok(
      await tunnel(fwd.port, s.port, (sock) => sock.write('this is not a TLS record\r\n\r\n'.repeat(20))),
    )
    let line = await nthLine(file, ++n, connects, s.port)
    assert.equal(line.level, 'warn')
    assert.equal(line.code, 'NOT_TLS')
    assert.match(String(line.cause), /sent 0x74 where a TLS handshake record \(0x16\) starts \(plain HTTP\?/)
    // A byte that is no letter either.
    assert.ok(await tunnel(fwd.port, s.port, (sock) => sock.write(Buffer.from([0x00, 0x01, 0x02]))))
    line = await nthLine(file, ++n, connects, s.port)
    assert.equal(line.code, 'NOT_TLS')
    assert.match(String(line.cause), /sent 0x00 where/)
    // Silent, then gone: nothing to connect ahead for either; debug (scanners, bursts).
    assert.ok(await tunnel(fwd.port, s.port, (sock) => setTimeout(() => sock.end(), 50)))
    line = await nthLine(file, ++n, connects, s.port)
    assert.equal(line.level, 'debug')
    assert.equal(line.code, 'CLIENT_ABORTED')
    assert.match(String(line.cause), /left before sending anything/)
    assert.equal(line.received, 0)
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(s.seen.total, 0, 'garbage and silence opened no upstream connection')

    // curl without the CA: its unknown_ca alert (RFC 8446 §6.2), routine for a MITM proxy: info, not error.
    const untrusted = await curl(['-x', fwd.proxy, `https://localhost:${s.port}/`])
    assert.equal(untrusted.code, 60, untrusted.stderr) // CURLE_PEER_FAILED_VERIFICATION
    line = await nthLine(file, ++n, connects, s.port)
    assert.equal(line.level, 'info')
    assert.equal(line.msg, 'mitm: the client refused our certificate')
    assert.equal(line.code, 'TLS_HANDSHAKE_FAILED')
    assert.equal(line.errno, 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA')
    assert.match(
      String(line.cause),
      /tlsv1 alert unknown ca: the client does not trust the certificate the local CA made for localhost/,
    )

    // TLS 1.2 with RSA key exchange only: our leaves are ECDSA.
    assert.ok(
      await tunnel(fwd.port, s.port, (sock) => {
        const c = tls.connect({
          socket: sock,
          servername: 'localhost',
          maxVersion: 'TLSv1.2',
          ciphers: 'AES128-SHA',
          rejectUnauthorized: false,
        })
        c.on('error', () => {})
      }),
    )
    line = await nthLine(file, ++n, connects, s.port)
    assert.equal(line.level, 'warn')
    assert.equal(line.code, 'TLS_HANDSHAKE_FAILED')
    assert.equal(line.errno, 'ERR_SSL_NO_SHARED_CIPHER')
    assert.match(String(line.cause), /TLS handshake with the client failed: no shared cipher/)

    // Half a ClientHello, then FIN; then again with a reset.
    assert.ok(
      await tunnel(fwd.port, s.port, (sock) => {
        sock.write(PARTIAL_HELLO)
        setTimeout(() => sock.end(), 100)
      }),
    )
    line = await nthLine(file, ++n, connects, s.port)
    assert.equal(line.level, 'info')
    assert.equal(line.code, 'CLIENT_ABORTED')
    assert.match(String(line.cause), /left during the TLS handshake/)
    assert.equal(line.received, PARTIAL_HELLO.length)
    assert.ok(
      await tunnel(fwd.port, s.port, (sock) => {
        sock.write(PARTIAL_HELLO)
        setTimeout(() => sock.resetAndDestroy(), 100)
      }),
    )
    line = await nthLine(file, ++n, connects, s.port)
    assert.equal(line.code, 'CLIENT_ABORTED')
    assert.equal(line.errno, 'ECONNRESET')

    // Once per connection: as many lines as failed CONNECTs, each its own.
    const lines = await mitmLines(file)
    assert.equal(lines.length, n, JSON.stringify(lines))
    assert.equal(new Set(lines.map((l) => l.requestId)).size, n)
    assert.equal(connects.filter((c) => c.error !== undefined).length, n)

    // Nothing left on the client side; the proxy still serves.
    assert.ok(await waitFor(() => fwd.gw.stats().connections === 0), 'no client connection left')
    const ok = await curl(['--cacert', s.caPem, '-x', fwd.proxy, `https://localhost:${s.port}/`])
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(ok.stdout, 'ok')
    assert.equal((await mitmLines(file)).length, n, 'a successful interception logs nothing')
    // The handshakes that began connected ahead (eager); closing the proxy closes them all.
    assert.ok(s.seen.total > 0)
    await fwd.close()
    assert.ok(await waitFor(() => s.seen.open === 0), `origin connections left: ${s.seen.open}`)
  },
)

test(
  'a CONNECT silent past timeouts.head, or stalled mid-handshake: closed at the limit, TLS_HANDSHAKE_TIMEOUT logged once',
  { skip },
  async (t) => {
    const s = await setup(t)
    const file = join(s.dir, 'error.log')
    const { fwd, connects } = await proxy(t, s, file, '300ms')
    assert.ok(await tunnel(fwd.port, s.port, () => {}))
    let line = await nthLine(file, 1, connects, s.port)
    assert.equal(line.level, 'debug')
    assert.equal(line.code, 'TLS_HANDSHAKE_TIMEOUT')
    assert.equal(line.cause, 'no TLS handshake within 300 ms')
    assert.equal(s.seen.total, 0, 'silence opened no upstream connection')
    assert.ok(await tunnel(fwd.port, s.port, (sock) => sock.write(PARTIAL_HELLO)))
    line = await nthLine(file, 2, connects, s.port)
    assert.equal(line.level, 'info')
    assert.equal(line.code, 'TLS_HANDSHAKE_TIMEOUT')
    assert.equal(line.cause, 'TLS handshake not done within 300 ms')
    assert.equal((await mitmLines(file)).length, 2)
    assert.ok(await waitFor(() => fwd.gw.stats().connections === 0), 'no client connection left')
    await fwd.close()
    assert.ok(await waitFor(() => s.seen.open === 0), `origin connections left: ${s.seen.open}`)
  },
)
