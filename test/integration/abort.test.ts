/**
 * Clients that leave: whatever phase a request is in, a client that goes
 * away makes the gateway close the upstream connection serving it (the
 * origin stops working for nobody), frees its pool slot and deadline, and
 * leaves the gateway serving everyone else.
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import net from 'node:net'
import { describe, test } from 'node:test'
import {
  parseResponses,
  proxyConfig,
  rawRequest,
  startGateway,
  startOrigin,
  waitFor,
  waitForGatewayIdle,
} from '../helpers/gateway.ts'

const HOST = 'Host: example.test\r\n'

/** connectClient opens a raw client socket and counts the bytes it receives. */
async function connectClient(port: number) {
  const socket = net.connect(port, '127.0.0.1')
  const state = { received: 0, closed: false, data: [] as Buffer[] }
  socket.on('data', (d: Buffer) => {
    state.received += d.length
    if (state.data.length < 4) state.data.push(d)
  })
  socket.on('error', () => {})
  socket.on('close', () => {
    state.closed = true
  })
  await new Promise<void>((r) => socket.once('connect', () => r()))
  return { socket, state }
}

/** watchUpstream records when the origin's side of a request's connection closes. */
function watchUpstream(req: http.IncomingMessage) {
  const seen = { closedAt: 0 }
  req.socket.once('close', () => {
    seen.closedAt = performance.now()
  })
  return seen
}

describe('client aborts', () => {
  test('while the upstream is slow (reset): the upstream connection is closed and the pool freed', async (t) => {
    let upstream: { closedAt: number } | undefined
    const origin = await startOrigin(
      (req, res) => {
        req.resume()
        if (req.url === '/fast') return void res.end('fast')
        upstream = watchUpstream(req) // never answers
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const client = await connectClient(gw.port)
    t.after(() => client.socket.destroy())
    client.socket.write(`GET /slow HTTP/1.1\r\n${HOST}\r\n`)
    await waitFor(() => upstream !== undefined, 'request at the origin')
    assert.equal(gw.gw.stats().upstreams.origin![origin.url]!.open, 1)
    const abortedAt = performance.now()
    client.socket.resetAndDestroy()
    await waitFor(() => upstream!.closedAt > 0, 'upstream connection closed', 500)
    assert.ok(upstream!.closedAt - abortedAt < 500)
    await waitForGatewayIdle(gw.gw, { poolsEmpty: true })
    const res = await rawRequest(gw.port, `GET /fast HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`)
    assert.equal(res.status, 200, 'still serving')
  })

  test('while the upstream is slow (FIN): the upstream connection is closed at once', async (t) => {
    // EOF from the client during a request is an abort, as in nginx (docs/discoveries.md).
    let upstream: { closedAt: number } | undefined
    const origin = await startOrigin(
      (req) => {
        upstream = watchUpstream(req)
        req.resume() // never answers
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const client = await connectClient(gw.port)
    t.after(() => client.socket.destroy())
    client.socket.write(`GET /slow HTTP/1.1\r\n${HOST}\r\n`)
    await waitFor(() => upstream !== undefined, 'request at the origin')
    client.socket.destroy()
    await waitFor(() => upstream!.closedAt > 0, 'upstream connection closed', 500)
    await waitForGatewayIdle(gw.gw, { poolsEmpty: true })
  })

  test('a client FIN after a complete exchange closes the connection cleanly', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const client = await connectClient(gw.port)
    t.after(() => client.socket.destroy())
    client.socket.write(`GET / HTTP/1.1\r\n${HOST}\r\n`)
    await waitFor(() => client.state.received > 0, 'response')
    client.socket.end()
    await waitFor(() => client.state.closed, 'client connection closed')
    assert.equal(parseResponses(Buffer.concat(client.state.data))[0]?.status, 200)
    await waitForGatewayIdle(gw.gw)
  })

  for (const framing of ['content-length', 'chunked'] as const) {
    test(`mid-upload (${framing}): the upstream connection is destroyed`, async (t) => {
      let upstream: { closedAt: number } | undefined
      let uploaded = 0
      let completed = false
      const origin = await startOrigin(
        (req, res) => {
          upstream = watchUpstream(req)
          req.on('data', (d: Buffer) => {
            uploaded += d.length
          })
          req.on('end', () => {
            completed = true
            res.end('got it')
          })
        },
        { t },
      )
      const gw = await startGateway(proxyConfig(origin.url), { t })
      const client = await connectClient(gw.port)
      t.after(() => client.socket.destroy())
      const piece = Buffer.alloc(64 * 1024, 'a')
      if (framing === 'chunked') {
        client.socket.write(`POST /up HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n`)
        client.socket.write(`${piece.length.toString(16)}\r\n`)
        client.socket.write(piece)
        client.socket.write('\r\n')
      } else {
        client.socket.write(`POST /up HTTP/1.1\r\n${HOST}Content-Length: ${10 * 1024 * 1024}\r\n\r\n`)
        client.socket.write(piece)
      }
      await waitFor(() => uploaded === piece.length, 'first body bytes at the origin')
      const abortedAt = performance.now()
      client.socket.destroy()
      await waitFor(() => upstream!.closedAt > 0, 'upstream connection closed', 500)
      assert.ok(upstream!.closedAt - abortedAt < 500)
      assert.equal(completed, false, 'the origin never saw a complete body')
      await waitForGatewayIdle(gw.gw, { poolsEmpty: true })
    })
  }

  test('mid-download of a large streaming response: the upstream connection is destroyed', async (t) => {
    let upstream: { closedAt: number } | undefined
    let sent = 0
    const origin = await startOrigin(
      (req, res) => {
        upstream = watchUpstream(req)
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' }) // chunked, endless
        const piece = Buffer.alloc(64 * 1024, 'z')
        const pump = () => {
          while (!res.destroyed && sent < 1024 * 1024 * 1024) {
            sent += piece.length
            if (!res.write(piece)) return void res.once('drain', pump)
          }
        }
        pump()
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const client = await connectClient(gw.port)
    t.after(() => client.socket.destroy())
    client.socket.write(`GET /big HTTP/1.1\r\n${HOST}\r\n`)
    await waitFor(() => client.state.received > 2 * 1024 * 1024, '2 MB downloaded')
    const abortedAt = performance.now()
    client.socket.destroy()
    await waitFor(() => upstream!.closedAt > 0, 'upstream connection closed', 500)
    assert.ok(upstream!.closedAt - abortedAt < 500)
    const sentAtAbort = sent
    await waitForGatewayIdle(gw.gw, { poolsEmpty: true })
    assert.ok(sent - sentAtAbort < 4 * 1024 * 1024, 'the origin stopped sending')
  })

  test('a client that stops reading is dropped after timeouts.send, and its upstream with it', async (t) => {
    let upstream: { closedAt: number } | undefined
    const origin = await startOrigin(
      (req, res) => {
        upstream = watchUpstream(req)
        res.writeHead(200)
        const piece = Buffer.alloc(64 * 1024, 'z')
        const pump = () => {
          while (!res.destroyed) if (!res.write(piece)) return void res.once('drain', pump)
        }
        pump()
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url, { timeouts: { send: 300 } }), { t })
    const client = await connectClient(gw.port)
    t.after(() => client.socket.destroy())
    client.socket.pause() // reads nothing: the gateway's writes stall
    client.socket.write(`GET /big HTTP/1.1\r\n${HOST}\r\n`)
    await waitFor(() => upstream !== undefined, 'request at the origin')
    await waitFor(() => upstream!.closedAt > 0, 'upstream connection closed', 3000)
    await waitForGatewayIdle(gw.gw, { poolsEmpty: true })
  })
})

describe('many clients, random aborts', () => {
  test('200 concurrent requests with random aborts leave the gateway clean and serving', async (t) => {
    const random = seeded(20240601)
    const origin = await startOrigin(
      (req, res) => {
        const size = Number(new URL(req.url!, 'http://x').searchParams.get('size'))
        const delay = Number(new URL(req.url!, 'http://x').searchParams.get('delay'))
        req.resume()
        req.on('end', () => {
          setTimeout(() => {
            if (res.destroyed) return
            res.writeHead(200, { 'Content-Length': size })
            res.end(Buffer.alloc(size, 'r'))
          }, delay)
        })
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const runs: Promise<void>[] = []
    let completed = 0
    let aborted = 0
    for (let i = 0; i < 200; i++) {
      const size = Math.floor(random() * 256 * 1024)
      const delay = Math.floor(random() * 60)
      const abort = random() < 0.5
      const upload = random() < 0.3
      const path = `/r${i}?size=${size}&delay=${delay}`
      const bytes = upload
        ? // Declares more body than it sends when aborting: the abort comes mid-upload.
          [
            `POST ${path} HTTP/1.1\r\n${HOST}Connection: close\r\nContent-Length: ${abort ? 100_000 : 5000}\r\n\r\n`,
            Buffer.alloc(5000, 'u'),
          ]
        : `GET ${path} HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`
      runs.push(
        rawRequest(gw.port, bytes, { timeout: abort ? 1 + Math.floor(random() * 80) : 10_000 }).then(
          (res) => {
            if (abort) {
              aborted++
              return
            }
            const [r] = parseResponses(res.data)
            assert.equal(r?.status, 200, `request ${i}: ${res.text.slice(0, 200)}`)
            assert.equal(r.body.length, size)
            assert.ok(r.complete)
            completed++
          },
        ),
      )
    }
    await Promise.all(runs)
    assert.equal(completed + aborted, 200)
    await waitForGatewayIdle(gw.gw, { timeout: 5000 })
    const res = await rawRequest(
      gw.port,
      `GET /after?size=2&delay=0 HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
    )
    assert.equal(res.status, 200)
    await waitForGatewayIdle(gw.gw)
    await origin.close()
    await waitForGatewayIdle(gw.gw, { poolsEmpty: true })
  })
})

/** seeded is a small deterministic PRNG (mulberry32), so a failing mix can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
