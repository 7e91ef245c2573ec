/**
 * WebSocket clients through the forward proxy: over an intercepted CONNECT
 * (TLS to the proxy's leaf, trusting the local CA), or as an absolute-form
 * upgrade to the plain forward proxy. Both are `ws` clients, terminated in
 * `t.after`. Also: an HTTPS page origin with a WebSocket, stopping a `ws`
 * server with its HTTP server, and a raw upgrade whose frames a test writes
 * itself.
 */
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import type http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import tls from 'node:tls'
import { WebSocket, WebSocketServer } from 'ws'
import type { Cleanup } from './gateway.ts'

/** wsThroughMitm opens `wss://host:port/path` through the forward proxy on `proxyPort`, trusting `caPem`. */
export async function wsThroughMitm(
  t: Cleanup,
  proxyPort: number,
  url: URL,
  caPem: string,
  options: { perMessageDeflate?: boolean } = {},
): Promise<WebSocket> {
  const raw = net.connect(proxyPort, '127.0.0.1')
  t.after(() => raw.destroy())
  raw.write(`CONNECT ${url.host} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`)
  await once(raw, 'data')
  const secure = tls.connect({ socket: raw, servername: url.hostname, ca: await readFile(caPem) })
  await once(secure, 'secureConnect')
  const ws = new WebSocket(url, { createConnection: () => secure, ...options })
  t.after(() => ws.terminate())
  await once(ws, 'open')
  return ws
}

/** wsThroughForward opens `ws://…` as an absolute-form upgrade to the forward proxy on `proxyPort`. */
export async function wsThroughForward(t: Cleanup, proxyPort: number, url: URL): Promise<WebSocket> {
  const raw = net.connect(proxyPort, '127.0.0.1')
  t.after(() => raw.destroy())
  await once(raw, 'connect')
  // ws writes an origin-form request line; a forward proxy wants absolute-form.
  const write = raw.write.bind(raw) as (chunk: unknown, ...rest: unknown[]) => boolean
  let first = true
  raw.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (first && typeof chunk === 'string') {
      first = false
      chunk = chunk.replace(/^GET \//, `GET http://${url.host}/`)
    }
    return write(chunk, ...rest)
  }) as typeof raw.write
  const ws = new WebSocket(url, { createConnection: () => raw })
  t.after(() => ws.terminate())
  await once(ws, 'open')
  return ws
}

/**
 * pageOrigin starts an HTTPS origin on 127.0.0.1 that answers every request
 * with `page` (HTML) and accepts WebSockets (`onSocket` gets each with its
 * upgrade request); closed when the test ends. Resolves with its port.
 */
export async function pageOrigin(
  t: Cleanup,
  cert: { cert: string; key: string },
  page: string,
  onSocket: (ws: WebSocket, req: http.IncomingMessage) => void,
  options: { perMessageDeflate?: boolean } = {},
): Promise<number> {
  const origin = https.createServer({ cert: cert.cert, key: cert.key }, (_req, res) => {
    res.setHeader('content-type', 'text/html')
    res.end(page)
  })
  const wss = new WebSocketServer({ server: origin, ...options })
  wss.on('connection', onSocket)
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
  t.after(() => stopWebSocketServer(origin, wss))
  return (origin.address() as net.AddressInfo).port
}

/**
 * stopWebSocketServer closes a `ws` server and the HTTP(S) server it is
 * attached to: upgraded sockets are not the HTTP server's to close, so they
 * are terminated first.
 */
export function stopWebSocketServer(server: http.Server, wss: WebSocketServer): Promise<void> {
  return new Promise<void>((r) => {
    for (const c of wss.clients) c.terminate()
    wss.close()
    server.closeAllConnections()
    server.close(() => r())
  })
}

/**
 * rawUpgrade opens a raw socket to `port` and completes a WebSocket
 * handshake on it (offering `extensions` when given); what followed the 101
 * is in `rest`.
 */
export async function rawUpgrade(port: number, extensions?: string): Promise<net.Socket & { rest: Buffer }> {
  const s = net.connect(port, '127.0.0.1')
  s.on('error', () => {})
  s.write(
    'GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
      (extensions === undefined ? '' : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
      '\r\n',
  )
  let buf = Buffer.alloc(0)
  while (!buf.includes('\r\n\r\n')) {
    const [chunk] = (await once(s, 'data')) as [Buffer]
    buf = Buffer.concat([buf, chunk])
  }
  if (!buf.toString('latin1').startsWith('HTTP/1.1 101'))
    throw new Error(`expected a 101: ${buf.toString('latin1', 0, 60)}`)
  return Object.assign(s, { rest: buf.subarray(buf.indexOf('\r\n\r\n') + 4) })
}
