/**
 * A fault-injecting HTTP origin for resilience tests (health, outlier
 * detection, breakers, retries). A real node:http server on 127.0.0.1 port 0
 * whose behaviour is switched at run time, with counters of what it saw.
 *
 * ```ts
 * const origin = await startFaultOrigin({ t, name: 'a' })
 * origin.set({ mode: 'error', rate: 0.5, status: 503 }) // every other request 503
 * origin.set({ mode: 'refuse' })                      // port closed: ECONNREFUSED
 * origin.set({ mode: 'ok' })                          // listening again, same port
 * origin.stats.requests; origin.count('/healthz')
 * ```
 *
 * Modes (applied when a connection or request arrives, so a switch affects
 * the next ones; requests already being answered finish as they started):
 * - `ok`: 200 with the body `name` (or `body`), after `delayMs` if given.
 * - `refuse`: stops listening (connects get ECONNREFUSED) and destroys open
 *   sockets: a killed process. Switching to any other mode listens again on
 *   the same port.
 * - `close`: accepts, then closes each connection at once (no response).
 * - `reset`: sends the head and half of the body, then resets the connection.
 * - `hang`: reads the request and never answers (the socket stays open).
 * - `slow`: answers 200 after `delayMs`.
 * - `error`: answers `status` (default 503) to a share `rate` (0..1, default
 *   1) of requests, spread evenly and deterministically (rate 0.25 fails the
 *   4th, 8th, ... request); the others are answered as `ok`.
 *
 * `setFor(path, behaviour)` overrides the mode for one exact path (a health
 * check path, say); connection-level modes (`refuse`, `close`) apply to the
 * whole origin and are only accepted by `set`.
 */
import http from 'node:http'
import net from 'node:net'
import type { Cleanup } from './gateway.ts'

export type FaultMode = 'ok' | 'refuse' | 'close' | 'reset' | 'hang' | 'slow' | 'error'

/** What the origin does; see the module comment for each mode. */
export interface FaultBehaviour {
  mode: FaultMode
  /** `ok` / `slow` / `error` successes: wait this long before answering. */
  delayMs?: number
  /** `error`: share of requests answered with `status` (0..1, default 1). */
  rate?: number
  /** `error`: the status (default 503). */
  status?: number
  /** The 200 body (default: the origin's name). */
  body?: string
}

/** Counters since start (or `resetStats()`). */
export interface FaultStats {
  /** TCP connections accepted (including those closed at once in `close`). */
  connections: number
  /** Request heads received, any mode. */
  requests: number
  /** Answered 200 (`ok`, `slow`, successes of `error`). */
  ok: number
  /** Answered with an error status in `error`. */
  errors: number
  /** Connections reset mid-body (`reset`). */
  resets: number
  /** Requests left unanswered (`hang`). */
  hung: number
  /** Connections closed on accept (`close`). */
  closed: number
  /** Requests per exact path (query string removed). */
  byPath: Map<string, number>
}

export interface FaultOrigin {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  readonly name: string
  readonly stats: FaultStats
  /** set switches the whole origin's behaviour (a string is shorthand for `{ mode }`). */
  set(behaviour: FaultBehaviour | FaultMode): Promise<void>
  /** setFor overrides request-level behaviour for one exact path; `undefined` removes it. */
  setFor(path: string, behaviour: FaultBehaviour | FaultMode | undefined): void
  /** count is the number of requests seen for an exact path. */
  count(path: string): number
  resetStats(): void
  /** close stops listening and destroys every socket; safe to call twice. */
  close(): Promise<void>
}

/**
 * startFaultOrigin listens on 127.0.0.1:0 in mode `ok`. With `t`, it is
 * closed in `t.after`.
 */
export async function startFaultOrigin(options: { t?: Cleanup; name?: string } = {}): Promise<FaultOrigin> {
  const name = options.name ?? 'origin'
  const stats = emptyStats()
  const sockets = new Set<net.Socket>()
  const perPath = new Map<string, FaultBehaviour>()
  let behaviour: FaultBehaviour = { mode: 'ok' }
  let errorTurn = 0
  let closed = false

  const httpServer = http.createServer({ keepAliveTimeout: 30_000 }, function answer(req, res) {
    stats.requests++
    const path = (req.url ?? '/').split('?')[0]!
    stats.byPath.set(path, (stats.byPath.get(path) ?? 0) + 1)
    respond(perPath.get(path) ?? behaviour, req, res)
  })

  function respond(b: FaultBehaviour, req: http.IncomingMessage, res: http.ServerResponse): void {
    const body = b.body ?? name
    switch (b.mode) {
      case 'hang':
        stats.hung++
        req.resume()
        return
      case 'reset': {
        req.resume()
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1000 })
        res.write('x'.repeat(500), () => {
          stats.resets++
          req.socket.resetAndDestroy()
        })
        return
      }
      case 'error': {
        const rate = b.rate ?? 1
        const before = Math.floor(errorTurn * rate)
        errorTurn++
        if (Math.floor(errorTurn * rate) > before) {
          stats.errors++
          req.resume()
          res.writeHead(b.status ?? 503, { 'content-type': 'text/plain' }).end(`${name} fault`)
          return
        }
        break
      }
    }
    req.resume()
    const send = () => {
      stats.ok++
      res.writeHead(200, { 'content-type': 'text/plain' }).end(body)
    }
    const delay = b.delayMs ?? 0
    if (delay > 0) setTimeout(send, delay).unref()
    else send()
  }

  const server = net.createServer(function accept(socket) {
    stats.connections++
    if (behaviour.mode === 'close') {
      stats.closed++
      socket.destroy()
      return
    }
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    httpServer.emit('connection', socket)
  })

  await listen(server, 0)
  const port = (server.address() as net.AddressInfo).port
  let listening = true

  async function set(next: FaultBehaviour | FaultMode): Promise<void> {
    behaviour = typeof next === 'string' ? { mode: next } : next
    errorTurn = 0
    if (closed) return
    if (behaviour.mode === 'refuse' && listening) {
      listening = false
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const s of sockets) s.destroy()
      await stopped
    } else if (behaviour.mode !== 'refuse' && !listening) {
      listening = true
      await listen(server, port)
    }
  }

  function setFor(path: string, b: FaultBehaviour | FaultMode | undefined): void {
    if (b === undefined) return void perPath.delete(path)
    const resolved = typeof b === 'string' ? { mode: b } : b
    if (resolved.mode === 'refuse' || resolved.mode === 'close')
      throw new Error(`setFor: ${resolved.mode} applies to the whole origin`)
    perPath.set(path, resolved)
  }

  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= (async () => {
      closed = true
      for (const s of sockets) s.destroy()
      if (listening) {
        listening = false
        await new Promise<void>((resolve) => server.close(() => resolve()))
      }
      httpServer.close()
    })())
  options.t?.after(close)

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    name,
    stats,
    set,
    setFor,
    count: (path) => stats.byPath.get(path) ?? 0,
    resetStats() {
      Object.assign(stats, emptyStats())
    },
    close,
  }
}

function emptyStats(): FaultStats {
  return { connections: 0, requests: 0, ok: 0, errors: 0, resets: 0, hung: 0, closed: 0, byPath: new Map() }
}

function listen(server: net.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
}
