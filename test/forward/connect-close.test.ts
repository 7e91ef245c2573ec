/**
 * A plain CONNECT tunnel's two sockets close together: when the client
 * closes (FIN, or a reset), the proxy closes its socket to the origin, and
 * when the origin closes, the proxy closes the client's. Asserted on the
 * far end's own socket, over real sockets, with nothing left open in the
 * proxy afterwards.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { test } from 'node:test'
import { startForward, waitFor, type ForwardHandle } from '../helpers/forward.ts'
import type { Cleanup } from '../helpers/gateway.ts'

/**
 * A TCP origin that echoes and keeps each accepted socket, with whether its
 * FIN came and whether it closed. By default it closes when its client's FIN
 * comes, as servers do; `halfOpen` keeps it writable after it, until it ends itself.
 */
async function echoOrigin(t: Cleanup, halfOpen = false) {
  const sockets: { socket: net.Socket; ended: boolean; closed: boolean }[] = []
  const server = net.createServer({ allowHalfOpen: halfOpen }, (socket) => {
    const entry = { socket, ended: false, closed: false }
    sockets.push(entry)
    socket.on('error', () => {})
    socket.on('end', () => (entry.ended = true))
    socket.on('close', () => (entry.closed = true))
    socket.pipe(socket, { end: !halfOpen })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => {
    for (const s of sockets) s.socket.destroy()
    return new Promise<void>((r) => server.close(() => r()))
  })
  return { sockets, port: (server.address() as net.AddressInfo).port }
}

/** tunnel opens a CONNECT tunnel to the origin and checks it carries bytes both ways. */
async function tunnel(fwd: ForwardHandle, port: number, t: Cleanup) {
  const client = net.connect(fwd.port, '127.0.0.1')
  t.after(() => client.destroy())
  client.on('error', () => {})
  let closed = false
  client.on('close', () => (closed = true))
  client.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
  const [head] = (await once(client, 'data')) as [Buffer]
  assert.match(head.toString('latin1'), /^HTTP\/1\.1 200 /)
  client.write('ping')
  const [echo] = (await once(client, 'data')) as [Buffer]
  assert.equal(echo.toString(), 'ping')
  const received: Buffer[] = []
  client.on('data', (d: Buffer) => received.push(d))
  return { client, closed: () => closed, received: () => Buffer.concat(received).toString() }
}

test('the client closing a CONNECT tunnel closes the origin socket (FIN and reset)', async (t) => {
  const origin = await echoOrigin(t)
  const fwd = await startForward({ allow: [`127.0.0.1:${origin.port}`] }, { t })

  const a = await tunnel(fwd, origin.port, t)
  assert.equal(origin.sockets.length, 1)
  assert.equal(origin.sockets[0]!.closed, false, 'open while the client is')
  a.client.end()
  assert.ok(
    await waitFor(() => origin.sockets[0]!.closed, 5000),
    'the origin socket closed after the client FIN',
  )

  const b = await tunnel(fwd, origin.port, t)
  assert.equal(origin.sockets.length, 2)
  b.client.resetAndDestroy()
  assert.ok(
    await waitFor(() => origin.sockets[1]!.closed, 5000),
    'the origin socket closed after the client reset',
  )
  assert.ok(await waitFor(() => fwd.gw.stats().connections === 0), 'no connection left in the proxy')
})

test('the origin closing a CONNECT tunnel closes the client socket (FIN and reset)', async (t) => {
  const origin = await echoOrigin(t)
  const fwd = await startForward({ allow: [`127.0.0.1:${origin.port}`] }, { t })

  const a = await tunnel(fwd, origin.port, t)
  assert.equal(a.closed(), false)
  origin.sockets[0]!.socket.end()
  assert.ok(await waitFor(a.closed, 5000), 'the client socket closed after the origin FIN')

  const b = await tunnel(fwd, origin.port, t)
  origin.sockets[1]!.socket.resetAndDestroy()
  assert.ok(await waitFor(b.closed, 5000), 'the client socket closed after the origin reset')
  assert.ok(await waitFor(() => fwd.gw.stats().connections === 0), 'no connection left in the proxy')
})

test('half-close is passed on: after the client FIN the origin still answers, then both close', async (t) => {
  const origin = await echoOrigin(t, true)
  const fwd = await startForward({ allow: [`127.0.0.1:${origin.port}`] }, { t })
  const a = await tunnel(fwd, origin.port, t)
  a.client.end()
  const up = origin.sockets[0]!
  assert.ok(await waitFor(() => up.ended, 5000), 'the client FIN reached the origin')
  assert.equal(up.closed, false, 'the origin may still answer')
  up.socket.end('after your FIN')
  assert.ok(await waitFor(a.closed, 5000), 'the client socket closed after the origin FIN')
  assert.equal(a.received(), 'after your FIN')
  assert.ok(await waitFor(() => up.closed, 5000))
  assert.ok(await waitFor(() => fwd.gw.stats().connections === 0), 'no connection left in the proxy')
})
