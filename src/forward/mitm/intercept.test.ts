/**
 * The interceptor answers a CONNECT before its leaf is made: a client that
 * sends its ClientHello at once (before the leaf is ready) is served all the
 * same, by a TLSSocket over the socket itself (its buffered bytes taken
 * first), with the CONNECT host's leaf (test/forward/mitm-eager.test.ts has
 * a ClientHello sent with the CONNECT, through the forward listener). During a burst of new hosts the destination is connected ahead only
 * once the ClientHello shows the client handshaking, and so outside a burst
 * too: a CONNECT followed by garbage or by nothing costs no upstream
 * connection, and why it closed is reported once. ALPN other than http/1.1
 * alone is refused (RFC 7301 §3.2).
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import tls from 'node:tls'
import type { Destination, Session } from '../../core/session.ts'
import type { ForwardClient } from '../client.ts'
import { createCa, loadCa } from './ca.ts'
import { createInterceptor, type ReportFailure } from './intercept.ts'
import { LeafCache } from './leaf-cache.ts'

/** A client connection as the forward listener has it: a stream socket whose CONNECT head was read. */
function clientOf(socket: net.Socket, rest: Buffer | null): ForwardClient {
  const session = { status: 0, bytesIn: 0, bytesOut: 0 } as unknown as Session
  return {
    socket,
    current: session,
    closeAfter: false,
    detachForTunnel(sink) {
      socket.removeAllListeners('data')
      socket.on('data', sink)
      return rest
    },
    lend() {},
    respond() {},
    respondError() {},
    proxy() {},
  }
}

/** localCa: a CA in a temporary directory, its PEM, and a real leaf cache over it. */
async function localCa(t: import('node:test').TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-intercept-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await createCa(join(dir, 'ca'))
  const caPem = await readFile(join(dir, 'ca', 'ca.pem'), 'latin1')
  return { caPem, real: new LeafCache(await loadCa(join(dir, 'ca')), 10) }
}

/** slowLeaves: `real`'s leaves, each 100 ms late (a client's ClientHello is there long before). */
function slowLeaves(real: LeafCache): LeafCache {
  return {
    pending: 0,
    hurry: () => {},
    usable: () => true,
    contextFor: (host: string) =>
      new Promise<tls.SecureContext>((r) => setTimeout(() => r(real.contextFor(host)), 100)),
  } as unknown as LeafCache
}

test('a ClientHello sent before the leaf is ready is served natively', async (t) => {
  const { caPem, real } = await localCa(t)
  const slow = slowLeaves(real)
  const parents: unknown[] = []
  const port = await serveOne(t, slow, undefined, (socket) =>
    parents.push((socket as unknown as { _parent: unknown })._parent),
  )
  assert.equal(await handshake(port, caPem), 'inside\n')
  assert.equal(parents.length, 1)
  assert.ok(parents[0] instanceof net.Socket, 'TLS runs on the socket, not a JavaScript stream')
})

/** serveOne: an interceptor over `leaves` on a listener, each CONNECT's head read as the forward listener does. */
async function serveOne(
  t: import('node:test').TestContext,
  leaves: LeafCache,
  ahead: (() => void) | undefined,
  served?: (socket: net.Socket) => void,
  handshakeTimeout = 5000,
  report?: ReportFailure,
): Promise<number> {
  const intercept = createInterceptor(
    leaves,
    (socket) => {
      served?.(socket)
      socket.end('inside\n')
    },
    handshakeTimeout,
    [],
    report,
  )
  const dest: Destination = { scheme: 'https', host: '127.0.0.1', port: 443 }
  const server = net.createServer({ allowHalfOpen: true }, (raw) => {
    raw.once('data', () => {
      const client = clientOf(raw, null)
      intercept(client, client.current!, dest, ahead)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => server.close())
  return (server.address() as net.AddressInfo).port
}

/** handshake: CONNECT, then TLS with `alpn` offered; resolves with what the inside sent, or the error. */
async function handshake(port: number, caPem: string, alpn?: string[]): Promise<string | Error> {
  const raw = net.connect(port, '127.0.0.1')
  raw.write('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n')
  await new Promise((r) => raw.once('data', r))
  const secure = tls.connect({ socket: raw, ca: caPem, host: '127.0.0.1', ALPNProtocols: alpn })
  return new Promise((resolve) => {
    let got = ''
    secure.on('data', (d: Buffer) => (got += d.toString()))
    secure.on('end', () => resolve(got))
    secure.on('error', (err) => resolve(err))
  })
}

test('in a burst, the destination is connected ahead at the ClientHello, not for a silent CONNECT; h2 alone is refused', async (t) => {
  const { caPem, real } = await localCa(t)
  // Other hosts' leaves still waiting: a burst.
  const hurried: string[] = []
  const busy = {
    pending: 5,
    hurry: (host: string) => hurried.push(host),
    usable: () => true,
    contextFor: (host: string) => real.contextFor(host),
  } as unknown as LeafCache
  let connected = 0
  const port = await serveOne(t, busy, () => connected++)
  // A CONNECT that sends nothing, then leaves: no speculative connection.
  const silent = net.connect(port, '127.0.0.1')
  silent.write('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n')
  await new Promise((r) => silent.once('data', r))
  await new Promise((r) => setTimeout(r, 50))
  silent.end()
  await new Promise((r) => silent.once('close', r))
  assert.equal(connected, 0, 'nothing sent: no speculative connection in a burst')
  assert.equal(await handshake(port, caPem), 'inside\n')
  assert.equal(connected, 1, 'a ClientHello: connected ahead once')
  assert.equal(await handshake(port, caPem, ['h2', 'http/1.1']), 'inside\n')
  assert.equal(connected, 2)
  const refused = await handshake(port, caPem, ['h2'])
  assert.ok(
    refused instanceof Error && /no.application.protocol|alert number 120/i.test(refused.message),
    String(refused),
  )

  // No burst: connected ahead at the ClientHello too.
  const quiet = {
    pending: 0,
    hurry: () => {},
    usable: () => true,
    contextFor: (host: string) => real.contextFor(host),
  } as unknown as LeafCache
  let early = 0
  const port2 = await serveOne(t, quiet, () => early++)
  assert.equal(await handshake(port2, caPem), 'inside\n')
  assert.equal(early, 1)
})

test('a leaf closed while its client waited (the cache retired it) is made again, and the client served', async (t) => {
  const { caPem, real } = await localCa(t)
  let asked = 0
  let checked = 0
  const leaves = {
    pending: 0,
    hurry: () => {},
    // The first context handed out was retired (closed) before the ClientHello came.
    usable: () => ++checked > 1,
    contextFor: (host: string) => (asked++, real.contextFor(host)),
  } as unknown as LeafCache
  const port = await serveOne(t, leaves, undefined)
  assert.equal(await handshake(port, caPem), 'inside\n')
  assert.equal(asked, 2, 'the leaf asked for again once')
})

test('a client that leaves before its leaf is made is closed then, not at the handshake time limit', async (t) => {
  const { real } = await localCa(t)
  const slow = slowLeaves(real)
  const intercept = createInterceptor(slow, (socket) => socket.end(), 60_000)
  const dest: Destination = { scheme: 'https', host: '127.0.0.1', port: 443 }
  let closed!: () => void
  const serverSideClosed = new Promise<void>((r) => (closed = r))
  const server = net.createServer({ allowHalfOpen: true }, (raw) => {
    raw.once('close', () => closed())
    raw.once('data', () => {
      const client = clientOf(raw, null)
      intercept(client, client.current!, dest)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => server.close())
  const raw = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  raw.write('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n')
  await new Promise((r) => raw.once('data', r))
  raw.end() // gone while the leaf is still being made
  const timeout = new Promise<string>((r) => setTimeout(() => r('still open'), 5000).unref())
  assert.equal(await Promise.race([serverSideClosed.then(() => 'closed'), timeout]), 'closed')
})

test('before TLS takes the socket: a client silent past the handshake limit, or sending over 64 KiB, is closed', async (t) => {
  const { real } = await localCa(t)
  // Silent after its CONNECT: closed at the limit (200 ms here), no TLS state made meanwhile.
  const quick = await serveOne(t, real, undefined, undefined, 200)
  const silent = net.connect(quick, '127.0.0.1')
  silent.on('error', () => {})
  silent.resume() // reads the 200, then sees the close
  silent.write('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n')
  const closedSilent = new Promise<string>((r) => silent.once('close', () => r('closed')))
  const limit = (ms: number) => new Promise<string>((r) => setTimeout(() => r('still open'), ms).unref())
  assert.equal(await Promise.race([closedSilent, limit(5000)]), 'closed', 'silent')

  // 70 KiB while its leaf is being made (here: never), no ClientHello is that long: only the cap closes it.
  const never = {
    pending: 0,
    hurry: () => {},
    usable: () => true,
    contextFor: () => new Promise(() => {}),
  } as unknown as LeafCache
  const port = await serveOne(t, never, undefined, undefined, 60_000)
  const flood = net.connect(port, '127.0.0.1')
  flood.on('error', () => {})
  flood.write('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n')
  await new Promise((r) => flood.once('data', r))
  flood.write(Buffer.alloc(70 * 1024, 0x16))
  const closedFlood = new Promise<string>((r) => flood.once('close', () => r('closed')))
  assert.equal(await Promise.race([closedFlood, limit(5000)]), 'closed', 'flood')
})

test('garbage or silence after the CONNECT: no upstream connection ahead, the tunnel closed, why reported once', async (t) => {
  const { caPem, real } = await localCa(t)
  const quiet = {
    pending: 0,
    hurry: () => {},
    usable: () => true,
    contextFor: (host: string) => real.contextFor(host),
  }
  let connected = 0
  const reports: string[] = []
  const report: ReportFailure = (session, err) => {
    assert.equal(session.error, err)
    reports.push(`${err.code}: ${err.message}`)
  }
  const port = await serveOne(t, quiet as unknown as LeafCache, () => connected++, undefined, 300, report)
  const after = async (send: (socket: net.Socket) => void): Promise<void> => {
    const raw = net.connect(port, '127.0.0.1')
    raw.on('error', () => {})
    raw.write('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n')
    await new Promise((r) => raw.once('data', r))
    // The leaf is made by now (no burst): before this change, the moment it connected ahead.
    await new Promise((r) => setTimeout(r, 50))
    send(raw)
    raw.resume()
    await new Promise((r) => raw.once('close', r))
  }
  await after((raw) => raw.write('GET / HTTP/1.1\r\n\r\n'))
  await after((raw) => raw.write(Buffer.from([0x80, 0x01])))
  await after((raw) => raw.end())
  await after(() => {}) // silent past the 300 ms limit
  assert.equal(connected, 0, 'no speculative upstream connection')
  assert.deepEqual(reports, [
    'NOT_TLS: the client sent 0x47 where a TLS handshake record (0x16) starts (plain HTTP? port 443 is not in mitm.sniffPorts)',
    'NOT_TLS: the client sent 0x80 where a TLS handshake record (0x16) starts',
    'CLIENT_ABORTED: the client left before sending anything',
    'TLS_HANDSHAKE_TIMEOUT: no TLS handshake within 300 ms',
  ])
  // A ClientHello then: connected ahead, served, nothing reported.
  assert.equal(await handshake(port, caPem), 'inside\n')
  assert.equal(connected, 1)
  assert.equal(reports.length, 4)
})
