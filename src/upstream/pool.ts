/**
 * ConnectionPool keeps keep-alive connections to one target. Idle
 * connections are reused last-in first-out, so the warmest socket is used and
 * surplus ones age out by the idle timeout. At most `maxConnections` are
 * open; requests beyond that wait in FIFO order, bounded by the queue timeout
 * the waiter enforces itself.
 */
import type { Deadlines } from '../core/deadlines.ts'
import type { GatewayError } from '../core/errors.ts'
import { type ConnectionOwner, UpstreamConnection } from './connection.ts'
import type { Endpoint } from './endpoint.ts'

/** Someone waiting for a connection. */
export interface PoolWaiter {
  /** Called with a connection ready for one request. `reused` when it served before. */
  onConnection(conn: UpstreamConnection): void
  /** Called when the connection opened for this waiter failed. */
  onPoolError(err: GatewayError): void
}

export interface PoolOptions {
  maxConnections: number
  maxIdle: number
  idleTimeout: number
  connectTimeout: number
}

export class ConnectionPool implements ConnectionOwner {
  private readonly idle: UpstreamConnection[] = []
  private readonly waiters: PoolWaiter[] = []
  /** The waiter each connecting socket was opened for. */
  private readonly opening = new Map<UpstreamConnection, PoolWaiter>()
  /** Connections opened ahead of any request (preconnect), not yet claimed by a waiter. */
  private readonly unclaimed: UpstreamConnection[] = []
  private open = 0
  private closed = false
  readonly endpoint: Endpoint
  private readonly options: PoolOptions
  private readonly deadlines: Deadlines

  constructor(endpoint: Endpoint, options: PoolOptions, deadlines: Deadlines) {
    this.endpoint = endpoint
    this.options = options
    this.deadlines = deadlines
  }

  /** Connections open (connecting, busy or idle). */
  get size(): number {
    return this.open
  }

  get idleCount(): number {
    return this.idle.length
  }

  /** mustWait tells whether a request asking now would wait in the queue (no idle connection, none may open). */
  mustWait(): boolean {
    return this.idle.length === 0 && this.open >= this.options.maxConnections
  }

  /**
   * acquire hands `waiter` a connection now (an idle one), later (a new one
   * or one freed), or reports a connect failure. `fresh` skips idle ones.
   */
  acquire(waiter: PoolWaiter, fresh = false): void {
    if (!fresh) {
      const conn = this.takeIdle()
      if (conn !== undefined) {
        waiter.onConnection(conn)
        return
      }
    }
    // A connection opened ahead for the request this one likely is: it waits for that, not for a second handshake.
    const ahead = this.unclaimed.pop()
    if (ahead !== undefined) {
      this.opening.set(ahead, waiter)
      return
    }
    if (this.open < this.options.maxConnections) {
      this.opening.set(this.connect(), waiter)
      return
    }
    this.waiters.push(waiter)
  }

  /**
   * preconnect opens a connection before any request asks for one (an
   * intercepted CONNECT's requests are on their way: its TCP and TLS
   * handshakes then overlap the client's own), unless one is idle or already
   * opened ahead. The first request to ask takes it, connected or not; one
   * nobody asks for goes idle and ages out as any idle connection.
   */
  preconnect(): void {
    if (this.closed || this.idle.length > 0 || this.unclaimed.length > 0) return
    if (this.open >= this.options.maxConnections) return
    this.unclaimed.push(this.connect())
  }

  /** cancel withdraws a waiter (its queue timeout passed or its client left). */
  cancel(waiter: PoolWaiter): void {
    const i = this.waiters.indexOf(waiter)
    if (i !== -1) this.waiters.splice(i, 1)
    for (const [conn, w] of this.opening) {
      if (w === waiter) this.opening.delete(conn)
    }
  }

  /** release returns a connection after a complete exchange; it is reused or closed. */
  release(conn: UpstreamConnection): void {
    if (conn.closed) return
    if (!conn.reusable) {
      conn.destroy()
      return
    }
    conn.detachIdle()
    // A closed pool (its configuration was reloaded away) still serves the
    // requests already waiting in it; it only stops keeping connections.
    const waiter = this.waiters.shift()
    if (waiter !== undefined) {
      waiter.onConnection(conn)
      return
    }
    if (this.closed || this.idle.length >= this.options.maxIdle) {
      conn.destroy()
      return
    }
    this.idle.push(conn)
  }

  /**
   * close destroys idle connections and stops keeping them: busy ones close
   * when released, after serving any request already queued here.
   */
  close(): void {
    this.closed = true
    for (const conn of this.idle.splice(0)) conn.destroy()
  }

  onConnected(conn: UpstreamConnection): void {
    this.claim(conn)
    const waiter = this.opening.get(conn)
    this.opening.delete(conn)
    if (waiter !== undefined) {
      waiter.onConnection(conn)
      return
    }
    // Its waiter left; the new connection serves the queue or goes idle.
    conn.reusable = true
    this.release(conn)
  }

  onConnectFailed(conn: UpstreamConnection, err: GatewayError): void {
    this.open--
    this.claim(conn)
    const waiter = this.opening.get(conn)
    this.opening.delete(conn)
    waiter?.onPoolError(err)
    this.serveQueue()
  }

  onClosed(conn: UpstreamConnection): void {
    this.open--
    const i = this.idle.indexOf(conn)
    if (i !== -1) this.idle.splice(i, 1)
    this.serveQueue()
  }

  private takeIdle(): UpstreamConnection | undefined {
    while (this.idle.length > 0) {
      const conn = this.idle.pop()!
      // A socket the peer half-closed or reset is dropped before any byte is written to it.
      if (conn.idle && !conn.socket.destroyed && conn.socket.readable) return conn
      conn.destroy()
    }
    return undefined
  }

  private connect(): UpstreamConnection {
    this.open++
    return new UpstreamConnection(
      this.endpoint,
      this,
      this.deadlines,
      this.options.connectTimeout,
      this.options.idleTimeout,
    )
  }

  /** claim: `conn` finished opening (or failed); it is no longer one a request may take over. */
  private claim(conn: UpstreamConnection): void {
    if (this.unclaimed.length === 0) return
    const i = this.unclaimed.indexOf(conn)
    if (i !== -1) this.unclaimed.splice(i, 1)
  }

  /** A slot freed: open a connection for the first waiter, if any (closed or not, see release). */
  private serveQueue(): void {
    const waiter = this.waiters.shift()
    if (waiter !== undefined) this.acquire(waiter)
  }
}
