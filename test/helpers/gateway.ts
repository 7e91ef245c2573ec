/**
 * Shared integration-test helpers: a gateway from a config object, real
 * origins (node:http, or a raw `net` server that records every byte), and a
 * raw-socket client that writes exact bytes and collects the whole response.
 * Everything binds 127.0.0.1 on port 0. Every `start*` function accepts an
 * optional test context `t`: when given, the thing started is stopped in
 * `t.after`, even when the test fails. Without `t`, call `close()` yourself.
 *
 * ```ts
 * const origin = await startOrigin((req, res) => res.end('ok'), { t })
 * const gw = await startGateway(proxyConfig(origin.url), { t })
 * const res = await rawRequest(gw.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n')
 * assert.equal(res.status, 200)
 * ```
 */
import http from 'node:http'
import net from 'node:net'
import type { GatewayConfigInput } from '../../src/config/schema.ts'
import type { GatewayHooks } from '../../src/core/hooks.ts'
import { createGateway, type Gateway } from '../../src/server/gateway.ts'

/** Anything with `after` (a node:test TestContext); used to stop what a test started. */
export interface Cleanup {
  after(fn: () => unknown): void
}

// --- gateway ---

/** A listening gateway. */
export interface GatewayHandle {
  gw: Gateway
  /** The first listener's port. */
  port: number
  /** `http://127.0.0.1:PORT` of the first listener. */
  url: string
  /** Stops the gateway at once (drain timeout 0); safe to call twice. */
  close(): Promise<void>
}

/**
 * startGateway creates and starts a gateway. `listen` defaults to one plain
 * listener on 127.0.0.1:0.
 */
export async function startGateway(
  config: GatewayConfigInput,
  options: { hooks?: GatewayHooks | readonly GatewayHooks[]; t?: Cleanup } = {},
): Promise<GatewayHandle> {
  const full: GatewayConfigInput = { listen: [{ address: '127.0.0.1:0' }], ...config }
  const gw = await createGateway(full, { hooks: options.hooks })
  let closing: Promise<void> | undefined
  const close = () => (closing ??= gw.close({ drainTimeout: 0 }))
  options.t?.after(close)
  await gw.listen()
  const port = gw.addresses()[0]!.port
  return { gw, port, url: `http://127.0.0.1:${port}`, close }
}

/**
 * proxyConfig is a config with one upstream `origin` (the given target
 * URLs) and one catch-all route to it. `extra` is merged in: its `limits`,
 * `timeouts` and `proxy` merge key by key with the defaults, `upstream`
 * (pool / timeouts of the `origin` upstream) likewise; other keys replace.
 */
export function proxyConfig(
  targets: string | readonly string[],
  extra: Omit<GatewayConfigInput, 'upstreams'> & {
    upstream?: { pool?: Record<string, unknown>; timeouts?: Record<string, unknown> }
  } = {},
): GatewayConfigInput {
  const { upstream, ...rest } = extra
  const urls = typeof targets === 'string' ? [targets] : targets
  return {
    upstreams: {
      origin: {
        targets: urls.map((url) => ({ url })),
        ...(upstream?.pool && { pool: upstream.pool }),
        ...(upstream?.timeouts && { timeouts: upstream.timeouts }),
      },
    } as GatewayConfigInput['upstreams'],
    routes: [{ match: {}, upstream: 'origin' }],
    ...rest,
  }
}

// --- origins ---

/** One request a node:http origin received. */
export interface OriginRequest {
  method: string
  url: string
  /** Raw header names and values as received, alternating. */
  rawHeaders: string[]
  /** Lower-cased header map (node's). */
  headers: http.IncomingHttpHeaders
  body: Buffer
  rawTrailers: string[]
  /** True once the request body ended. */
  complete: boolean
}

/** A node:http origin. */
export interface OriginHandle {
  server: http.Server
  port: number
  url: string
  /** Every request received, in order (recorded before the handler runs; body filled as it arrives). */
  requests: OriginRequest[]
  /** TCP connections accepted so far. */
  connections: number
  /** Stops the origin and destroys its connections; safe to call twice. */
  close(): Promise<void>
}

/**
 * startOrigin starts a node:http server. The default handler reads the
 * body and answers 200 `ok`. The handler runs as soon as the head arrives;
 * `requests` gets the body as it streams.
 */
export async function startOrigin(
  handler?: (req: http.IncomingMessage, res: http.ServerResponse, record: OriginRequest) => void,
  options: { t?: Cleanup } = {},
): Promise<OriginHandle> {
  const server = http.createServer({ keepAliveTimeout: 5000 })
  let closing: Promise<void> | undefined
  const origin: OriginHandle = {
    server,
    port: 0,
    url: '',
    requests: [],
    connections: 0,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })),
  }
  server.on('connection', () => origin.connections++)
  server.on('request', function onRequest(req, res) {
    const record: OriginRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      rawHeaders: req.rawHeaders,
      headers: req.headers,
      body: Buffer.alloc(0),
      rawTrailers: [],
      complete: false,
    }
    origin.requests.push(record)
    const parts: Buffer[] = []
    req.on('data', (d: Buffer) => parts.push(d))
    req.on('end', () => {
      record.body = Buffer.concat(parts)
      record.rawTrailers = req.rawTrailers
      record.complete = true
    })
    req.on('error', () => {})
    res.on('error', () => {})
    if (handler) handler(req, res, record)
    else req.on('end', () => res.end('ok'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin.port = (server.address() as net.AddressInfo).port
  origin.url = `http://127.0.0.1:${origin.port}`
  options.t?.after(origin.close)
  return origin
}

/** One TCP connection a raw origin accepted. */

/**
 * startFlakyOrigin: an origin (as startOrigin) answering 503 to the first
 * request for /flaky, 200 `ok` to every other, once each body was read: for
 * retries. `rearm` makes the next /flaky fail again.
 */
export async function startFlakyOrigin(
  options: { t?: Cleanup } = {},
): Promise<OriginHandle & { rearm(): void }> {
  let failed = false
  const origin = await startOrigin((req, res, record) => {
    req.on('end', () => {
      const fail = record.url === '/flaky' && !failed
      if (fail) failed = true
      res.statusCode = fail ? 503 : 200
      res.end('ok')
    })
  }, options)
  return Object.assign(origin, { rearm: () => void (failed = false) })
}
export interface RawConnection {
  socket: net.Socket
  /** Every byte received on it. */
  data: Buffer
  /** True once the gateway's side closed or reset it. */
  closed: boolean
  /** Resolves when the connection closes. */
  whenClosed: Promise<void>
}

/** A raw `net` origin that records every byte of every connection. */
export interface RawOriginHandle {
  server: net.Server
  port: number
  url: string
  connections: RawConnection[]
  /** All bytes received on all connections, in connection order. */
  received(): Buffer
  /** Stops the origin and destroys its connections; safe to call twice. */
  close(): Promise<void>
}

/**
 * startRawOrigin starts a `net` server. `onData(conn, chunk)` runs for each
 * chunk after it is recorded (write replies with `conn.socket.write`);
 * without it the origin only listens and records.
 */
export async function startRawOrigin(
  onData?: (conn: RawConnection, chunk: Buffer) => void,
  options: { t?: Cleanup; onConnection?: (conn: RawConnection) => void } = {},
): Promise<RawOriginHandle> {
  const connections: RawConnection[] = []
  const server = net.createServer({ allowHalfOpen: false }, function onSocket(socket) {
    let closed!: () => void
    const conn: RawConnection = {
      socket,
      data: Buffer.alloc(0),
      closed: false,
      whenClosed: new Promise<void>((r) => {
        closed = r
      }),
    }
    connections.push(conn)
    socket.on('data', (chunk: Buffer) => {
      conn.data = Buffer.concat([conn.data, chunk])
      onData?.(conn, chunk)
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      conn.closed = true
      closed()
    })
    options.onConnection?.(conn)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  let closing: Promise<void> | undefined
  const handle: RawOriginHandle = {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    connections,
    received: () => Buffer.concat(connections.map((c) => c.data)),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const c of connections) c.socket.destroy()
      })),
  }
  options.t?.after(handle.close)
  return handle
}

// --- raw client ---

/** What a raw request got back. */
export interface RawResponse {
  /** Every byte received. */
  data: Buffer
  /** `data` as latin1 text. */
  text: string
  /** Status code of the first response, or undefined when none arrived. */
  status: number | undefined
  /** True when the server closed (FIN or reset) before the timeout. */
  closed: boolean
  /** True when the connection ended by a reset (ECONNRESET/EPIPE). */
  reset: boolean
  /** True when the timeout ended the wait (the connection was still open). */
  timedOut: boolean
}

/**
 * rawRequest connects to 127.0.0.1:`port`, writes `bytes` exactly (a string
 * is sent as latin1), and collects everything until the server closes or
 * `timeout` ms (default 2000) pass, then destroys the socket.
 * With `endAfterWrite`, the client half-closes after writing.
 */
export function rawRequest(
  port: number,
  bytes: string | Buffer | readonly (string | Buffer)[],
  options: { timeout?: number; endAfterWrite?: boolean } = {},
): Promise<RawResponse> {
  const parts = Array.isArray(bytes) ? bytes : [bytes]
  const timeout = options.timeout ?? 2000
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let reset = false
    let timedOut = false
    const socket = net.connect(port, '127.0.0.1')
    const timer = setTimeout(() => {
      timedOut = true
      socket.destroy()
    }, timeout)
    socket.on('connect', () => {
      for (const p of parts) socket.write(typeof p === 'string' ? Buffer.from(p, 'latin1') : p)
      if (options.endAfterWrite) socket.end()
    })
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', () => {
      reset = true
    })
    socket.on('close', () => {
      clearTimeout(timer)
      const data = Buffer.concat(chunks)
      const text = data.toString('latin1')
      resolve({ data, text, status: parseStatus(text), closed: !timedOut, reset, timedOut })
    })
  })
}

/** parseStatus reads the status code of the first status line in `text`. */
export function parseStatus(text: string): number | undefined {
  const m = /^HTTP\/\d\.\d (\d{3})/.exec(text)
  return m ? Number(m[1]) : undefined
}

/** One response parsed out of a byte stream. */
export interface ParsedResponse {
  status: number
  /** Lower-cased names; repeated fields joined with `, `. */
  headers: Record<string, string>
  body: Buffer
  /** False when the stream ended before the body was complete. */
  complete: boolean
}

/**
 * parseResponses splits a response byte stream into responses, framed by
 * Content-Length, chunked coding or (otherwise) the end of the stream.
 * 1xx responses are included. Bodies of responses to HEAD are not
 * expected (pass responses to HEAD separately).
 */
export function parseResponses(data: Buffer): ParsedResponse[] {
  const out: ParsedResponse[] = []
  let at = 0
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at, 'latin1')
    if (end === -1) break
    const lines = data.toString('latin1', at, end).split('\r\n')
    const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(lines[0]!)?.[1])
    const headers: Record<string, string> = {}
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':')
      const name = line.slice(0, i).toLowerCase()
      const value = line.slice(i + 1).trim()
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
    }
    at = end + 4
    if (status < 200 || status === 204 || status === 304) {
      out.push({ status, headers, body: Buffer.alloc(0), complete: true })
      continue
    }
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const r = dechunk(data, at)
      out.push({ status, headers, body: r.body, complete: r.complete })
      at = r.next
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length'])
      const body = data.subarray(at, at + n)
      out.push({ status, headers, body, complete: body.length === n })
      at += n
    } else {
      out.push({ status, headers, body: data.subarray(at), complete: true })
      at = data.length
    }
  }
  return out
}

/**
 * dechunk decodes a chunked body starting at `from`. `complete` is false when
 * the data ends first or is not chunked framing at all (a broken size line).
 */
export function dechunk(data: Buffer, from: number): { body: Buffer; complete: boolean; next: number } {
  const parts: Buffer[] = []
  let at = from
  for (;;) {
    const eol = data.indexOf('\r\n', at, 'latin1')
    const size = Number.parseInt(data.toString('latin1', at, eol).split(';')[0]!, 16)
    if (eol === -1 || !Number.isInteger(size))
      return { body: Buffer.concat(parts), complete: false, next: data.length }
    at = eol + 2
    if (size === 0) {
      // Trailers end with an empty line.
      const end = data.indexOf('\r\n', at, 'latin1')
      const trailerEnd =
        data.toString('latin1', at, at + 2) === '\r\n' ? at : data.indexOf('\r\n\r\n', at, 'latin1')
      if (end === -1 || trailerEnd === -1)
        return { body: Buffer.concat(parts), complete: false, next: data.length }
      const next = trailerEnd === at ? at + 2 : trailerEnd + 4
      return { body: Buffer.concat(parts), complete: true, next }
    }
    if (at + size + 2 > data.length) {
      parts.push(data.subarray(at, Math.min(at + size, data.length)))
      return { body: Buffer.concat(parts), complete: false, next: data.length }
    }
    parts.push(data.subarray(at, at + size))
    at += size + 2
  }
}

// --- waiting ---

/** waitFor polls `predicate` every 10 ms until it is true or `timeout` ms (default 2000) pass; then throws with `what`. */
export async function waitFor(predicate: () => boolean, what: string, timeout = 2000): Promise<void> {
  const until = Date.now() + timeout
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/**
 * waitForGatewayIdle waits until nothing is in flight: no client connection,
 * every open upstream connection idle in its pool, and no deadline other than
 * those idle connections' idle timers (so no exchange is left registered).
 * With `poolsEmpty`, also no open upstream connection at all (then
 * `deadlines` is 0). Throws with the last stats after `timeout` ms (default 2000).
 */
export async function waitForGatewayIdle(
  gw: Gateway,
  options: { poolsEmpty?: boolean; timeout?: number } = {},
): Promise<void> {
  const quiet = () => {
    const s = gw.stats()
    const pools = Object.values(s.upstreams).flatMap((ts) => Object.values(ts))
    const open = pools.reduce((n, p) => n + p.open, 0)
    if (s.connections !== 0 || s.deadlines !== open) return false
    if (pools.some((p) => p.open !== p.idle)) return false
    return !options.poolsEmpty || open === 0
  }
  try {
    await waitFor(quiet, 'gateway idle', options.timeout ?? 2000)
  } catch {
    throw new Error(`gateway not idle: ${JSON.stringify(gw.stats())}`)
  }
}
