/**
 * onWebSocketMessage on the forward proxy, over real sockets: a WebSocket
 * inside an intercepted CONNECT (`source: 'mitm'`, the local CA trusted by
 * the client, the origin's certificate by the proxy), and one sent as an
 * absolute-form upgrade to the plain forward proxy (`source: 'forward'`).
 * The hook rewrites both directions and sees the destination.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import tls from 'node:tls'
import { type RawData, WebSocket, WebSocketServer } from 'ws'
import type { GatewayHooks } from '../../src/core/hooks.ts'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { hasOpenssl, makeSelfSigned } from '../fixtures/self-signed.ts'
import { startForward, waitFor } from '../helpers/forward.ts'

const skip = !(await hasOpenssl()) && 'needs openssl'

/** The hook under test: uppercases what the client sends, tags what the server sends with where it went. */
const hooks: GatewayHooks = {
  onWebSocketMessage(session, m) {
    if (m.type !== 'text') return undefined
    if (m.direction === 'client') return m.data.toUpperCase()
    return `${m.data} (${session.source} ${session.destination?.host})`
  },
}

/** echoOn attaches an echoing WebSocket server (permessage-deflate on) to `server`. */
function echoOn(server: http.Server, offers: (string | undefined)[]): WebSocketServer {
  const wss = new WebSocketServer({ server, perMessageDeflate: true })
  wss.on('connection', (ws, req) => {
    offers.push(req.headers['sec-websocket-extensions'])
    ws.on('message', (m: RawData) => ws.send(`echo ${String(m)}`))
  })
  return wss
}

function stop(server: http.Server, wss: WebSocketServer): Promise<void> {
  return new Promise<void>((r) => {
    for (const c of wss.clients) c.terminate() // upgraded sockets are not the server's to close
    wss.close()
    server.closeAllConnections()
    server.close(() => r())
  })
}

test('a message hook on an intercepted WebSocket (source mitm)', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-mitm-ws-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const caDir = join(dir, 'ca')
  await createCa(caDir)
  const cert = await makeSelfSigned(dir, 'ws')
  const server = https.createServer({ cert: cert.cert, key: cert.key })
  const offers: (string | undefined)[] = []
  const wss = echoOn(server, offers)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => stop(server, wss))
  const port = (server.address() as net.AddressInfo).port
  const fwd = await startForward(
    { allow: ['127.0.0.1'], mitm: { caDir, hosts: ['localhost'], upstreamCa: cert.certPath } },
    { t, hooks },
  )

  const raw = net.connect(fwd.port, '127.0.0.1')
  t.after(() => raw.destroy())
  raw.write(`CONNECT localhost:${port} HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`)
  await once(raw, 'data')
  const secure = tls.connect({
    socket: raw,
    servername: 'localhost',
    ca: await readFile(join(caDir, 'ca.pem')),
  })
  await once(secure, 'secureConnect')
  const ws = new WebSocket(`wss://localhost:${port}/chat`, {
    createConnection: () => secure,
    perMessageDeflate: true,
  })
  t.after(() => ws.terminate())
  await once(ws, 'open')
  assert.equal(ws.extensions, '', 'no extension negotiated through the relay')
  assert.equal(offers[0], undefined, 'the permessage-deflate offer was removed')
  const replies: string[] = []
  ws.on('message', (m: RawData) => replies.push(String(m)))
  ws.send('hello')
  ws.send('again')
  assert.ok(await waitFor(() => replies.length === 2))
  assert.deepEqual(replies, ['echo HELLO (mitm localhost)', 'echo AGAIN (mitm localhost)'])
})

test('a message hook on an absolute-form WebSocket upgrade (source forward)', async (t) => {
  const server = http.createServer()
  const offers: (string | undefined)[] = []
  const wss = echoOn(server, offers)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => stop(server, wss))
  const port = (server.address() as net.AddressInfo).port
  const fwd = await startForward({ allow: ['127.0.0.1'] }, { t, hooks })
  // ws sends an origin-form request line; a forward proxy wants absolute-form: one raw upgrade instead.
  const raw = net.connect(fwd.port, '127.0.0.1')
  t.after(() => raw.destroy())
  await once(raw, 'connect')
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, {
    createConnection: () => absoluteForm(raw, `http://127.0.0.1:${port}`),
  })
  t.after(() => ws.terminate())
  await once(ws, 'open')
  const reply = once(ws, 'message')
  ws.send('through the proxy')
  assert.equal(String((await reply)[0]), 'echo THROUGH THE PROXY (forward 127.0.0.1)')
})

/**
 * absoluteForm wraps `socket` so the first line written (ws's `GET /path
 * HTTP/1.1`) names `origin` in absolute form, as a forward proxy expects.
 */
function absoluteForm(socket: net.Socket, origin: string): net.Socket {
  const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean
  let first = true
  socket.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (first && typeof chunk === 'string') {
      first = false
      chunk = chunk.replace(/^GET \//, `GET ${origin}/`)
    }
    return write(chunk, ...rest)
  }) as typeof socket.write
  return socket
}
