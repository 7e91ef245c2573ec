/**
 * Slow uploads against the upstream pool (issue 10, item 4). Attackers on
 * 127.0.0.2 trickle request bodies; probes on 127.0.0.1 are other clients.
 * With the defences off (bodies streamed at once, no minimum rate, no
 * per-client bound) the attack holds every pooled connection and the probes
 * get 503; with the defaults the probes are served, the trickling bodies are
 * cut off with 408 BODY_TOO_SLOW, and one address cannot take the pool.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { describe, it, type TestContext } from 'node:test'
import type { GatewayConfigInput } from '../../src/config/schema.ts'
import { proxyConfig, startGateway, startOrigin, waitFor } from '../helpers/gateway.ts'
import { RawClient } from '../helpers/raw-client.ts'

const POOL = 16

/** An attacker: a connection from 127.0.0.2 that sends `head` and `first`, then one byte every `every` ms. */
interface Attacker {
  socket: net.Socket
  /** Everything the gateway answered. */
  answer: () => string
  closed: boolean
}

function attack(port: number, t: TestContext, first = '', every = 200): Promise<Attacker> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' })
    let received = ''
    const a: Attacker = { socket, answer: () => received, closed: false }
    const timer = setInterval(() => socket.writable && socket.write('x'), every)
    t.after(() => {
      clearInterval(timer)
      socket.destroy()
    })
    socket.on('data', (d) => (received += d.toString('latin1')))
    socket.on('error', () => {})
    socket.on('close', () => {
      a.closed = true
      clearInterval(timer)
    })
    socket.once('connect', () => {
      socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n${first}`)
      resolve(a)
    })
    socket.once('error', reject)
  })
}

/** probe sends one GET from 127.0.0.1 and returns its status. */
async function probe(port: number, t: TestContext): Promise<number> {
  const c = await RawClient.connect(port, t)
  c.write('GET /probe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  return (await c.response({ timeout: 3000 })).status
}

async function probes(port: number, t: TestContext, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(await probe(port, t))
  return out
}

async function setup(t: TestContext, extra: Partial<GatewayConfigInput> = {}) {
  const origin = await startOrigin(undefined, { t })
  const config = proxyConfig(origin.url, {
    upstream: { pool: { maxConnections: POOL, queueTimeout: 300 } },
    ...extra,
  })
  return { origin, gw: await startGateway(config, { t }) }
}

describe('slow uploads', () => {
  it('with the defences off, trickling bodies hold the whole pool and other clients get 503', async (t) => {
    const { gw } = await setup(t, {
      limits: { bodyBuffer: 0, minUploadRate: 0, maxUploadsPerClient: 0 },
    })
    const attackers = await Promise.all(Array.from({ length: POOL * 2 }, () => attack(gw.port, t)))
    const pool = () => Object.values(gw.gw.stats().upstreams.origin!)[0]
    await waitFor(() => pool()?.open === POOL, 'pool full')
    const got = await probes(gw.port, t, 5)
    assert.deepEqual(got, [503, 503, 503, 503, 503])
    // The first POOL hold a connection each; the others waited in the queue like the probes.
    assert.equal(attackers.filter((a) => !a.closed).length, POOL)
  })

  it('by default, other clients are served while bodies trickle, and the trickling ones get 408', async (t) => {
    const { gw, origin } = await setup(t, { timeouts: { uploadGrace: 1000 } })
    const attackers = await Promise.all(Array.from({ length: POOL * 2 }, () => attack(gw.port, t)))
    const got = await probes(gw.port, t, 5)
    assert.deepEqual(got, [200, 200, 200, 200, 200])
    // No upstream connection was taken for a body still under limits.bodyBuffer.
    assert.equal(origin.requests.filter((r) => r.url === '/upload').length, 0)
    await waitFor(() => attackers.every((a) => a.closed), 'every trickling upload cut off', 5000)
    for (const a of attackers) assert.match(a.answer(), /^HTTP\/1\.1 408 [^]*BODY_TOO_SLOW/)
    assert.deepEqual(await probes(gw.port, t, 2), [200, 200])
  })

  it('past the buffer, one address holds at most maxUploadsPerClient connections; the rest get 429', async (t) => {
    const { gw, origin } = await setup(t, { limits: { maxUploadsPerClient: POOL / 2 } })
    const big = 'y'.repeat(70 * 1024) // past the 64 KiB bodyBuffer: each takes an upstream connection
    const attackers: Attacker[] = []
    for (let i = 0; i < POOL * 2; i++) attackers.push(await attack(gw.port, t, big))
    await waitFor(() => attackers.filter((a) => a.closed).length === POOL * 2 - POOL / 2, 'the rest refused')
    const refused = attackers.filter((a) => a.closed)
    for (const a of refused) assert.match(a.answer(), /^HTTP\/1\.1 429 [^]*TOO_MANY_UPLOADS/)
    await waitFor(() => origin.requests.length === POOL / 2, 'the allowed uploads at the origin')
    assert.deepEqual(await probes(gw.port, t, 5), [200, 200, 200, 200, 200])
  })

  it('a body that keeps up with minUploadRate is not cut off', async (t) => {
    const { gw, origin } = await setup(t, { timeouts: { uploadGrace: 200 }, limits: { minUploadRate: 1000 } })
    const c = await RawClient.connect(gw.port, t)
    c.write('POST /steady HTTP/1.1\r\nHost: x\r\nContent-Length: 1500\r\n\r\n')
    // 1,500 bytes over ~1.2 s: above 1,000 bytes/s after a 0.2 s grace.
    for (let i = 0; i < 6; i++) {
      c.write('z'.repeat(250))
      await new Promise((r) => setTimeout(r, 200))
    }
    const res = await c.response()
    assert.equal(res.status, 200)
    assert.equal(origin.requests[0]!.body.length, 1500)
  })
})
