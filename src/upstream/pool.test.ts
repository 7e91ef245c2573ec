/**
 * ConnectionPool.preconnect over real sockets: the first request takes the
 * connection opened ahead (connected or still connecting) instead of opening
 * another; one opened ahead that nobody asks for goes idle; a failed one
 * fails the request that took it; nothing is opened ahead while one is idle.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { Deadlines } from '../core/deadlines.ts'
import type { GatewayError } from '../core/errors.ts'
import type { UpstreamConnection } from './connection.ts'
import { ConnectionPool, type PoolWaiter } from './pool.ts'

async function origin(t: import('node:test').TestContext) {
  const seen = { connections: 0 }
  const server = net.createServer((s) => {
    seen.connections++
    s.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => server.close(() => r())))
  return { port: (server.address() as net.AddressInfo).port, seen }
}

function pool(t: import('node:test').TestContext, port: number): ConnectionPool {
  const deadlines = new Deadlines(50)
  const p = new ConnectionPool(
    { host: '127.0.0.1', port, tls: false, servername: undefined, ca: undefined, verify: true },
    { maxConnections: 4, maxIdle: 4, idleTimeout: 5000, connectTimeout: 2000 },
    deadlines,
  )
  t.after(() => (p.close(), deadlines.stop()))
  return p
}

function waiter(): PoolWaiter & { got: Promise<UpstreamConnection> } {
  let resolve!: (c: UpstreamConnection) => void
  let reject!: (e: GatewayError) => void
  const got = new Promise<UpstreamConnection>((r, j) => ((resolve = r), (reject = j)))
  return { got, onConnection: (c) => resolve(c), onPoolError: (e) => reject(e) }
}

test('a request takes the connection opened ahead, while it is still connecting', async (t) => {
  const o = await origin(t)
  const p = pool(t, o.port)
  p.preconnect()
  p.preconnect() // one ahead is enough
  assert.equal(p.size, 1)
  const w = waiter()
  p.acquire(w)
  const conn = await w.got
  assert.equal(p.size, 1)
  assert.equal(o.seen.connections, 1)
  conn.destroy()
})

test('a connection opened ahead that nobody asked for goes idle, and is taken from there', async (t) => {
  const o = await origin(t)
  const p = pool(t, o.port)
  p.preconnect()
  for (let i = 0; i < 100 && p.idleCount === 0; i++) await new Promise((r) => setTimeout(r, 10))
  assert.equal(p.idleCount, 1)
  p.preconnect() // one is idle: nothing more
  assert.equal(p.size, 1)
  const w = waiter()
  p.acquire(w)
  const conn = await w.got
  assert.equal(p.idleCount, 0)
  assert.equal(o.seen.connections, 1)
  conn.destroy()
})

test('a failed connection opened ahead fails the request that took it, and frees its slot', async (t) => {
  // A port nothing listens on.
  const server = net.createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((r) => server.close(() => r()))
  const p = pool(t, port)
  p.preconnect()
  const w = waiter()
  p.acquire(w)
  await assert.rejects(w.got, (err: GatewayError) => err.code === 'UPSTREAM_CONNECT_REFUSED')
  assert.equal(p.size, 0)
})
