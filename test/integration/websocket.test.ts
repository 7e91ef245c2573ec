/**
 * WebSocket through the gateway over real sockets: a `ws` origin, a `ws`
 * client, the 101 handshake forwarded and the tunnel carrying frames both
 * ways; either side closing tears both connections down, and nothing is left
 * open afterwards. An upgrade the origin refuses is answered like any request.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { type RawData, WebSocket, WebSocketServer } from 'ws'
import type { Session } from '../../src/core/session.ts'
import { createGateway, type Gateway } from '../../src/server/gateway.ts'
import { waitFor, waitForGatewayIdle } from '../helpers/gateway.ts'

let origin: http.Server
let wss: WebSocketServer
/** Server-side sockets, newest last, with a promise that settles when each closed. */
const originSockets: { ws: WebSocket; socket: Socket; closed: Promise<void> }[] = []
let gw: Gateway
/** Sessions as onLog saw them. */
const logs: Session[] = []
let base: string

before(async () => {
  origin = http.createServer((_req, res) => res.end('plain'))
  wss = new WebSocketServer({ noServer: true })
  origin.on('upgrade', function onUpgrade(req, socket, head) {
    if (req.url === '/refuse-400') {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 7\r\nConnection: close\r\n\r\nno ws\r\n')
      return
    }
    if (req.url === '/refuse-200') {
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot ws 200')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const closed = once(socket, 'close').then(() => {})
      originSockets.push({ ws, socket: socket as Socket, closed })
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
      ws.on('error', () => {})
    })
  })
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
  const port = (origin.address() as AddressInfo).port
  gw = await createGateway(
    {
      listen: [{ address: '127.0.0.1:0' }],
      upstreams: { ws: { targets: [{ url: `http://127.0.0.1:${port}` }] } },
      routes: [{ upstream: 'ws' }],
    },
    { hooks: { onLog: (s) => logs.push(s) } },
  )
  await gw.listen()
  base = `ws://127.0.0.1:${gw.addresses()[0]!.port}`
})

after(async () => {
  for (const c of wss.clients) c.terminate()
  await gw?.close({ drainTimeout: 100 })
  wss.close()
  origin.closeAllConnections()
  await new Promise((r) => origin.close(r))
})

/** connect opens a client through the gateway; the socket is terminated after the test if left open. */
async function connect(path = '/echo'): Promise<WebSocket> {
  const ws = new WebSocket(`${base}${path}`)
  ws.on('error', () => {})
  await once(ws, 'open')
  return ws
}

/** nextMessage resolves with the next message and whether it was binary. */
function nextMessage(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) =>
    ws.once('message', (data: RawData, binary: boolean) => resolve({ data: data as Buffer, binary })),
  )
}

describe('WebSocket through the gateway', () => {
  it('echoes text and binary messages both ways', async () => {
    const ws = await connect()
    try {
      let reply = nextMessage(ws)
      ws.send('hello, origin')
      let m = await reply
      assert.equal(m.binary, false)
      assert.equal(m.data.toString(), 'hello, origin')

      const bytes = Buffer.from([0, 1, 2, 253, 254, 255, 0x0d, 0x0a])
      reply = nextMessage(ws)
      ws.send(bytes)
      m = await reply
      assert.equal(m.binary, true)
      assert.deepEqual(m.data, bytes)

      // A frame larger than a socket read, so it crosses the tunnel in pieces.
      const big = Buffer.alloc(1024 * 1024, 'x')
      reply = nextMessage(ws)
      ws.send(big)
      m = await reply
      assert.equal(m.data.length, big.length)
      assert.ok(m.data.equals(big))

      // The origin speaks first, too: not only echoes of what the client sent.
      const server = originSockets.at(-1)!.ws
      reply = nextMessage(ws)
      server.send('pushed by origin')
      assert.equal((await reply).data.toString(), 'pushed by origin')
    } finally {
      ws.terminate()
    }
    await waitForGatewayIdle(gw, { poolsEmpty: true })
  })

  it('carries many messages in order', async () => {
    const ws = await connect()
    try {
      const count = 2000
      const got: string[] = []
      const all = new Promise<void>((resolve) => {
        ws.on('message', (data: RawData) => {
          got.push(String(data))
          if (got.length === count) resolve()
        })
      })
      for (let i = 0; i < count; i++) ws.send(i % 3 === 0 ? Buffer.from(`m${i}`) : `m${i}`)
      await all
      assert.deepEqual(
        got,
        Array.from({ length: count }, (_, i) => `m${i}`),
      )
    } finally {
      ws.terminate()
    }
    await waitForGatewayIdle(gw, { poolsEmpty: true })
  })

  it('closes the origin socket when the client closes, frees everything, logs once', async () => {
    const before = originSockets.length
    const ws = await connect('/logged?x=1')
    await waitFor(() => originSockets.length === before + 1, 'the origin to accept')
    const server = originSockets.at(-1)!
    const serverClose = once(server.ws, 'close')
    ws.close(1000, 'client done')
    const [code, reason] = (await serverClose) as [number, Buffer]
    assert.equal(code, 1000)
    assert.equal(reason.toString(), 'client done')
    await once(ws, 'close')
    await server.closed
    await waitForGatewayIdle(gw, { poolsEmpty: true })
    // The upgraded request is logged when the tunnel ends, once, as a 101.
    const mine = () => logs.filter((l) => l.head.target === '/logged?x=1')
    await waitFor(() => mine().length === 1, 'the log')
    const s = mine()[0]!
    assert.equal(s.status, 101)
    assert.equal(s.error, undefined)
    assert.ok(s.timings.end >= s.timings.upstreamHead && s.timings.upstreamHead > 0)
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(mine().length, 1, 'never twice')
  })

  it('tears the client down when the client vanishes without a close frame', async () => {
    const before = originSockets.length
    const ws = await connect()
    await waitFor(() => originSockets.length === before + 1, 'the origin to accept')
    const server = originSockets.at(-1)!
    ws.terminate()
    await server.closed
    await waitForGatewayIdle(gw, { poolsEmpty: true })
  })

  it('closes the client when the origin terminates, and frees everything', async () => {
    const before = originSockets.length
    const ws = await connect()
    await waitFor(() => originSockets.length === before + 1, 'the origin to accept')
    const clientClose = once(ws, 'close')
    originSockets.at(-1)!.ws.terminate()
    const [code] = (await clientClose) as [number]
    assert.equal(code, 1006, 'an abnormal closure: no close frame was sent')
    await waitForGatewayIdle(gw, { poolsEmpty: true })
  })

  it('passes a clean close from the origin to the client', async () => {
    const before = originSockets.length
    const ws = await connect()
    await waitFor(() => originSockets.length === before + 1, 'the origin to accept')
    const clientClose = once(ws, 'close')
    originSockets.at(-1)!.ws.close(4001, 'origin says bye')
    const [code, reason] = (await clientClose) as [number, Buffer]
    assert.equal(code, 4001)
    assert.equal(reason.toString(), 'origin says bye')
    await waitForGatewayIdle(gw, { poolsEmpty: true })
  })

  it('answers an upgrade the origin refuses with a plain response', async () => {
    for (const [path, status, body] of [
      ['/refuse-400', 400, 'no ws\r\n'],
      ['/refuse-200', 200, 'not ws 200'],
    ] as const) {
      const res = await upgradeRequest(path)
      assert.equal(res.status, status, path)
      assert.equal(res.body, body, path)
    }
    // And a ws client reports the refusal as an unexpected response, not a hang.
    const ws = new WebSocket(`${base}/refuse-400`)
    ws.on('error', () => {}) // terminate() before 'open' reports an error; expected here
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage]
    assert.equal(res.statusCode, 400)
    res.destroy()
    ws.terminate()
    await waitForGatewayIdle(gw, { poolsEmpty: true })
  })

  it('proxies plain requests on the same route', async () => {
    const res = await fetch(`${base.replace('ws:', 'http:')}/plain`)
    assert.equal(res.status, 200)
    assert.equal(await res.text(), 'plain')
  })
})

/** upgradeRequest sends a WebSocket upgrade request with node:http and reads a non-101 answer. */
function upgradeRequest(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base.replace('ws:', 'http:')}${path}`, {
      agent: false,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    })
    req.on('upgrade', (_res, socket) => {
      socket.destroy()
      reject(new Error('unexpected 101'))
    })
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('latin1')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}
