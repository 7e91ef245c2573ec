/**
 * The interceptor answers a CONNECT before its leaf is made: a client that
 * sends its ClientHello at once (before the leaf is ready), or together with
 * the CONNECT's bytes, is served all the same, by a TLSSocket over the
 * socket itself (its buffered bytes taken first), with the CONNECT host's
 * leaf. During a burst of new hosts the destination is connected ahead only
 * once the ClientHello shows the client handshaking (ALPN or SNI); ALPN
 * other than http/1.1 alone is refused (RFC 7301 §3.2).
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
import { createInterceptor } from './intercept.ts'
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

for (const withConnect of [false, true])
  test(`a ClientHello ${withConnect ? 'read with the CONNECT' : 'sent before the leaf is ready'} is served natively`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-intercept-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    await createCa(join(dir, 'ca'))
    const ca = await loadCa(join(dir, 'ca'))
    const caPem = await readFile(join(dir, 'ca', 'ca.pem'), 'latin1')
    const real = new LeafCache(ca, 10)
    // A leaf that takes 100 ms: the client's ClientHello is there long before it.
    const slow = {
      pending: 0,
      contextFor: (host: string) =>
        new Promise<tls.SecureContext>((r) => setTimeout(() => r(real.contextFor(host)), 100)),
    } as unknown as LeafCache
    const served: { socket: net.Socket; parent: unknown }[] = []
    const intercept = createInterceptor(
      slow,
      (socket) => {
        served.push({ socket, parent: (socket as unknown as { _parent: unknown })._parent })
        socket.end('inside\n')
      },
      5000,
    )
    const dest: Destination = { scheme: 'https', host: '127.0.0.1', port: 443 }
    const server = net.createServer({ allowHalfOpen: true }, (raw) => {
      raw.once('data', (head: Buffer) => {
        const end = head.indexOf('\r\n\r\n') + 4
        const rest = end < head.length ? Buffer.from(head.subarray(end)) : null
        const client = clientOf(raw, rest)
        intercept(client, client.current!, dest)
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.after(() => server.close())
    const port = (server.address() as net.AddressInfo).port

    const raw = net.connect(port, '127.0.0.1')
    t.after(() => raw.destroy())
    const connect = 'CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n'
    let text: string
    if (!withConnect) {
      raw.write(connect)
      const answer = await new Promise<string>((r) =>
        raw.once('data', (d: Buffer) => r(d.toString('latin1'))),
      )
      assert.equal(answer, 'HTTP/1.1 200 Connection Established\r\n\r\n')
      const secure = tls.connect({ socket: raw, ca: caPem, host: '127.0.0.1' })
      text = await new Promise<string>((resolve, reject) => {
        let got = ''
        secure.on('data', (d: Buffer) => (got += d.toString()))
        secure.on('end', () => resolve(got))
        secure.on('error', reject)
      })
      assert.equal(secure.getPeerX509Certificate()!.checkIP('127.0.0.1'), '127.0.0.1')
    } else {
      // The ClientHello goes in the CONNECT's own write: take it from a TLS client over a capturing stream.
      const { Duplex } = await import('node:stream')
      let first = true
      let head = Buffer.alloc(0)
      let open = false
      const carrier = new Duplex({
        read() {},
        write(chunk: Buffer, _e, done) {
          raw.write(first ? Buffer.concat([Buffer.from(connect), chunk]) : chunk, done)
          first = false
        },
      })
      raw.on('data', (d: Buffer) => {
        if (open) return void carrier.push(d)
        head = Buffer.concat([head, d])
        const end = head.indexOf('\r\n\r\n')
        if (end === -1) return
        open = true
        if (end + 4 < head.length) carrier.push(head.subarray(end + 4))
      })
      raw.on('end', () => carrier.push(null))
      const secure = tls.connect({ socket: carrier, ca: caPem, host: '127.0.0.1' })
      text = await new Promise<string>((resolve, reject) => {
        let got = ''
        secure.on('data', (d: Buffer) => (got += d.toString()))
        secure.on('end', () => resolve(got))
        secure.on('error', reject)
      })
    }
    assert.equal(text, 'inside\n')
    assert.equal(served.length, 1)
    assert.ok(served[0]!.parent instanceof net.Socket, 'TLS runs on the socket, not a JavaScript stream')
  })

/** serveOne: an interceptor over `leaves` on a listener, each CONNECT's head read as the forward listener does. */
async function serveOne(
  t: import('node:test').TestContext,
  leaves: LeafCache,
  ahead: (() => void) | undefined,
): Promise<number> {
  const intercept = createInterceptor(leaves, (socket) => socket.end('inside\n'), 5000)
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

test('in a burst, the destination is connected ahead at an ALPN ClientHello; h2 alone is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-intercept-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await createCa(join(dir, 'ca'))
  const caPem = await readFile(join(dir, 'ca', 'ca.pem'), 'latin1')
  const real = new LeafCache(await loadCa(join(dir, 'ca')), 10)
  // Other hosts' leaves still waiting: a burst.
  const busy = { pending: 5, contextFor: (host: string) => real.contextFor(host) } as unknown as LeafCache
  let connected = 0
  const port = await serveOne(t, busy, () => connected++)
  assert.equal(await handshake(port, caPem), 'inside\n')
  assert.equal(connected, 0, 'a ClientHello naming nothing: no speculative connection in a burst')
  assert.equal(await handshake(port, caPem, ['h2', 'http/1.1']), 'inside\n')
  assert.equal(connected, 1, 'an ALPN ClientHello: connected ahead once')
  const refused = await handshake(port, caPem, ['h2'])
  assert.ok(
    refused instanceof Error && /no.application.protocol|alert number 120/i.test(refused.message),
    String(refused),
  )

  // No burst: connected ahead at once, before any ClientHello.
  const quiet = { pending: 0, contextFor: (host: string) => real.contextFor(host) } as unknown as LeafCache
  let early = 0
  const port2 = await serveOne(t, quiet, () => early++)
  assert.equal(await handshake(port2, caPem), 'inside\n')
  assert.equal(early, 1)
})

test('a client that leaves before its leaf is made is closed then, not at the handshake time limit', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-intercept-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await createCa(join(dir, 'ca'))
  const real = new LeafCache(await loadCa(join(dir, 'ca')), 10)
  const slow = {
    pending: 0,
    contextFor: (host: string) =>
      new Promise<tls.SecureContext>((r) => setTimeout(() => r(real.contextFor(host)), 100)),
  } as unknown as LeafCache
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
