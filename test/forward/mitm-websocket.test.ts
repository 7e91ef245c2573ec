/**
 * onWebSocketMessage on the forward proxy, over real sockets: a WebSocket
 * inside an intercepted CONNECT (`source: 'mitm'`, the local CA trusted by
 * the client, the origin's certificate by the proxy), and one sent as an
 * absolute-form upgrade to the plain forward proxy (`source: 'forward'`).
 * The hook rewrites both directions and sees the destination. And plain
 * HTTP inside an intercepted CONNECT (a browser's `ws://` through a proxy).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { type RawData, WebSocket, WebSocketServer } from 'ws'
import type { GatewayHooks } from '../../src/core/hooks.ts'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { startForward, waitFor } from '../helpers/forward.ts'
import { mitmFixture } from '../helpers/https-origin.ts'
import { stopWebSocketServer, wsThroughForward, wsThroughMitm } from '../helpers/websocket.ts'

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

test('a message hook on an intercepted WebSocket (source mitm)', { skip }, async (t) => {
  const { caDir, caPemPath, cert } = await mitmFixture(t)
  const server = https.createServer({ cert: cert.cert, key: cert.key })
  const offers: (string | undefined)[] = []
  const wss = echoOn(server, offers)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => stopWebSocketServer(server, wss))
  const port = (server.address() as net.AddressInfo).port
  const fwd = await startForward(
    { allow: ['127.0.0.1'], mitm: { caDir, hosts: ['localhost'], upstreamCa: cert.certPath } },
    { t, hooks },
  )
  const url = new URL(`wss://localhost:${port}/chat`)
  const ws = await wsThroughMitm(t, fwd.port, url, caPemPath, { perMessageDeflate: true })
  assert.match(ws.extensions, /^permessage-deflate/, 'compression agreed through the relay')
  assert.match(offers[0] ?? '', /^permessage-deflate/, 'the permessage-deflate offer reached the origin')
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
  t.after(() => stopWebSocketServer(server, wss))
  const port = (server.address() as net.AddressInfo).port
  const fwd = await startForward({ allow: ['127.0.0.1'] }, { t, hooks })
  const ws = await wsThroughForward(t, fwd.port, new URL(`ws://127.0.0.1:${port}/chat`))
  assert.equal(ws.extensions, 'permessage-deflate', 'compression agreed through the relay')
  assert.match(offers[0] ?? '', /^permessage-deflate/)
  const reply = once(ws, 'message')
  ws.send('through the proxy')
  assert.equal(String((await reply)[0]), 'echo THROUGH THE PROXY (forward 127.0.0.1)')
})

test('plain HTTP inside an intercepted CONNECT: a ws:// WebSocket and a GET, as browsers send them', async (t) => {
  const server = http.createServer((req, res) => res.end(`plain origin got ${req.url}`))
  const offers: (string | undefined)[] = []
  const wss = echoOn(server, offers)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => stopWebSocketServer(server, wss))
  const port = (server.address() as net.AddressInfo).port
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-mitm-plain-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await createCa(join(dir, 'ca'))
  const seen: string[] = []
  const fwd = await startForward(
    // The port must be allowed for CONNECT (`ports`) and sniffed (`mitm.sniffPorts`, default [80]).
    {
      allow: ['127.0.0.1'],
      ports: [port],
      mitm: { caDir: join(dir, 'ca'), hosts: ['127.0.0.1'], sniffPorts: [port] },
    },
    {
      t,
      hooks: [
        hooks,
        {
          onResponse: (session, res) => {
            seen.push(`${session.source} ${session.destination?.scheme} ${session.head.target}`)
            res.headers.set('x-seen', 'yes')
          },
        },
      ],
    },
  )
  const tunnel = async (): Promise<net.Socket> => {
    const raw = net.connect(fwd.port, '127.0.0.1')
    t.after(() => raw.destroy())
    raw.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
    const [answer] = (await once(raw, 'data')) as [Buffer]
    assert.match(String(answer), /^HTTP\/1\.1 200 /)
    return raw
  }
  // ws:// as Chromium sends it through a proxy: CONNECT, then the upgrade in the clear.
  const raw = await tunnel()
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { createConnection: () => raw })
  t.after(() => ws.terminate())
  await once(ws, 'open')
  const reply = once(ws, 'message')
  ws.send('in the clear')
  assert.equal(String((await reply)[0]), 'echo IN THE CLEAR (mitm 127.0.0.1)')
  // A GET inside another tunnel: served and seen as an intercepted request to http://.
  const get = await tunnel()
  get.write(`GET /page HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)
  let text = ''
  get.on('data', (d: Buffer) => (text += d.toString('latin1')))
  await once(get, 'end')
  assert.match(text, /^HTTP\/1\.1 200 /)
  assert.match(text, /x-seen: yes/i)
  assert.match(text, /plain origin got \/page$/)
  assert.ok(seen.includes('mitm http /page'), seen.join(', '))
})
