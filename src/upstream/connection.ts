/**
 * UpstreamConnection is one keep-alive connection to a target. It owns the
 * socket's listeners (attached once, not per request) and the response
 * parser, and reports to whichever exchange is using it.
 */
import net from 'node:net'
import tls from 'node:tls'
import type { Deadlines, Expirable } from '../core/deadlines.ts'
import { GatewayError } from '../core/errors.ts'
import { ChunkedDecoder, type ChunkSink } from '../http1/chunked.ts'
import {
  parseResponseHead,
  type ResponseHead,
  responseHasBody,
  scanResponseHead,
} from '../http1/response-head.ts'
import { ReadBuffer } from '../http1/read-buffer.ts'
import { type Endpoint, tlsOptions } from './endpoint.ts'

/** The exchange using a connection. */
export interface UpstreamUser {
  /** A 1xx other than 101. */
  onUpstreamInformational(head: ResponseHead): void
  /** The final response head (or a 101). */
  onUpstreamHead(head: ResponseHead): void
  onUpstreamData(data: Buffer): void
  /** The response is complete; the connection may be released after this. */
  onUpstreamEnd(trailers: string[] | undefined): void
  onUpstreamError(err: GatewayError): void
  /** The socket's write buffer drained. */
  onUpstreamDrain(): void
  /**
   * Brackets the handling of one chunk read from the upstream, so that what
   * it produces (typically a response head and body) can leave in one write.
   */
  onUpstreamBatchStart(): void
  /**
   * Ends the bracket. Returns true when bytes passed to onUpstreamData during
   * it are still referenced (queued on the client socket, held, in a
   * transform): the read buffer they live in must not be reused.
   */
  onUpstreamBatchEnd(): boolean
}

/** Callbacks the pool gets from its connections. */
export interface ConnectionOwner {
  onConnected(conn: UpstreamConnection): void
  onConnectFailed(conn: UpstreamConnection, err: GatewayError): void
  onClosed(conn: UpstreamConnection): void
}

const CONNECTING = 0
const IDLE = 1
const BUSY = 2
const CLOSED = 3

const R_HEAD = 0
const R_LENGTH = 1
const R_CHUNKED = 2
const R_UNTIL_CLOSE = 3
const R_DONE = 4
const R_TUNNEL = 5

const MAX_RESPONSE_HEAD = 64 * 1024
/**
 * Plain-TCP read buffer sizes. A connection reads into a small buffer while
 * responses are small or it is idle (a pool of idle connections costs 4 KiB
 * each, not 64), and into a large one (what libuv's stream reads ask for)
 * once a read fills the small one: a body is streaming.
 */
const SMALL_READ = 4 * 1024
const LARGE_READ = 64 * 1024
const MAX_RESPONSE_HEADERS = 256

export class UpstreamConnection implements Expirable, ChunkSink {
  /** The connection's socket (with `openVia`, an unconnected placeholder until the tunnel is open). */
  socket: net.Socket
  /** The connection speaks TLS (its reads come as 'data' chunks). */
  readonly tls: boolean
  deadline = 0
  /** Requests sent on this connection before the current one: > 0 means reused. */
  served = 0
  /** Bytes of the current response received so far (0: nothing yet, so a retry may be safe). */
  responseBytes = 0
  /** Whether the current response allows reuse. */
  reusable = false
  private state = CONNECTING
  private user: UpstreamUser | null = null
  private method = 'GET'
  private rstate = R_DONE
  private buf: Buffer | null = null
  private remaining = 0
  private decoder: ChunkedDecoder | null = null
  /** Where plain-TCP reads land (see onRead). */
  private readonly readBuf = new ReadBuffer(SMALL_READ, LARGE_READ)
  /** After a 101: where the upstream's bytes go (see tunnel()). */
  private tunnelSink: ((data: Buffer) => void) | null = null
  private readonly owner: ConnectionOwner
  private readonly deadlines: Deadlines
  private readonly idleTimeout: number

  constructor(
    endpoint: Endpoint,
    owner: ConnectionOwner,
    deadlines: Deadlines,
    connectTimeout: number,
    idleTimeout: number,
  ) {
    this.owner = owner
    this.deadlines = deadlines
    this.idleTimeout = idleTimeout
    this.tls = endpoint.tls
    this.deadline = deadlines.at(connectTimeout)
    deadlines.add(this)
    if (endpoint.openVia !== undefined) {
      this.socket = new net.Socket()
      endpoint.openVia().then(
        (raw) => {
          if (this.state !== CONNECTING) return void raw.destroy()
          this.socket = tls.connect({ ...tlsOptions(endpoint), socket: raw })
          this.listen(endpoint)
        },
        (err: GatewayError) => this.fail(err),
      )
      return
    }
    this.socket = endpoint.tls
      ? tls.connect({ ...tlsOptions(endpoint), host: endpoint.host, port: endpoint.port })
      : net.connect({
          host: endpoint.host,
          port: endpoint.port,
          // Reads land in one buffer this connection owns instead of a new
          // one per read, and skip the Readable machinery (a nextTick and a
          // 'data' emit per read): measured ~4% of a small request's CPU.
          onread: { buffer: () => this.readBuf.next(), callback: (n, buf) => this.onRead(n, buf as Buffer) },
        })
    this.listen(endpoint)
  }

  private listen(endpoint: Endpoint): void {
    this.socket.setNoDelay(true)
    this.socket.on(endpoint.tls ? 'secureConnect' : 'connect', () => this.onConnect())
    // TLS sockets keep the stream path: each 'data' chunk is fresh memory.
    if (endpoint.tls) this.socket.on('data', (chunk: Buffer) => this.onDataGuarded(chunk))
    this.socket.on('end', () => this.onEnd())
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.onSocketError(err))
    this.socket.on('close', () => this.onClose())
    this.socket.on('drain', () => this.user?.onUpstreamDrain())
  }

  get idle(): boolean {
    return this.state === IDLE
  }

  get closed(): boolean {
    return this.state === CLOSED
  }

  /** attach gives the connection to an exchange for one request. */
  attach(user: UpstreamUser, method: string): void {
    this.user = user
    this.method = method
    this.state = BUSY
    this.deadline = 0
    this.rstate = R_HEAD
    this.responseBytes = 0
    this.reusable = false
  }

  /**
   * handOver gives the response being read to another user, parse state
   * untouched: a hedged try that won passes its connection to its exchange.
   */
  handOver(user: UpstreamUser): void {
    this.user = user
  }

  /** detachIdle returns the connection to idle after a complete exchange. */
  detachIdle(): void {
    this.user = null
    this.served++
    this.state = IDLE
    this.deadline = this.deadlines.at(this.idleTimeout)
  }

  /**
   * tunnel hands the connection over after a 101: no more HTTP parsing. The
   * upstream's bytes go to `sink` from now on; a sink that keeps them past
   * the call must lend() (the socket emits no 'data' on the plain-TCP path).
   * Returns the bytes already read past the 101.
   */
  tunnel(sink: (data: Buffer) => void): Buffer | null {
    this.rstate = R_TUNNEL
    this.user = null
    this.deadlines.delete(this)
    this.socket.removeAllListeners('data')
    this.socket.removeAllListeners('drain')
    this.socket.removeAllListeners('end')
    this.tunnelSink = sink
    if (this.tls) this.socket.on('data', sink)
    const rest = this.buf
    this.buf = null
    return rest
  }

  destroy(): void {
    if (this.state === CLOSED) return
    this.user = null
    this.socket.destroy()
    this.markClosed()
  }

  expire(): void {
    if (this.state === CONNECTING) {
      this.fail(new GatewayError('UPSTREAM_CONNECT_TIMEOUT', 'connect timeout'))
      this.socket.destroy()
    } else if (this.state === IDLE) {
      this.destroy()
    }
  }

  private onConnect(): void {
    if (this.state !== CONNECTING) return
    this.state = IDLE
    this.deadline = 0
    this.owner.onConnected(this)
  }

  /** lend marks the bytes of the current read as kept beyond this read (see ReadBuffer). */
  lend(): void {
    this.readBuf.lend()
  }

  /** The plain-TCP read callback; pausing goes through socket.pause(), so it always returns true. */
  private onRead(n: number, buf: Buffer): true {
    const chunk = buf.subarray(0, n)
    if (this.tunnelSink !== null) {
      this.tunnelSink(chunk)
      return true
    }
    this.onDataGuarded(chunk)
    // A partial head, or bytes after a response, stay in this.buf for later.
    if (this.buf !== null) this.readBuf.lend()
    this.readBuf.adapt(n, buf.length, this.state !== BUSY)
    return true
  }

  /** A bug while handling a response fails this exchange (as an invalid response), never the process. */
  private onDataGuarded(chunk: Buffer): void {
    try {
      this.onData(chunk)
    } catch (err) {
      process.emitWarning(
        `portcullis: internal error on an upstream connection: ${(err as Error)?.stack ?? err}`,
      )
      this.fail(new GatewayError('INTERNAL_ERROR', String(err)))
      this.destroy()
    }
  }

  private onData(chunk: Buffer): void {
    if (this.user === null) {
      // Bytes nobody asked for (RFC 9112 §9.3.2 forbids a server to send them): not safe to reuse.
      this.destroy()
      return
    }
    this.responseBytes += chunk.length
    const user = this.user
    user.onUpstreamBatchStart()
    if (this.rstate === R_LENGTH && this.buf === null) this.readLength(chunk)
    else {
      this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk])
      this.drainBuffer()
    }
    if (user.onUpstreamBatchEnd()) this.readBuf.lend()
  }

  private drainBuffer(): void {
    while (this.buf !== null && this.user !== null) {
      const buf = this.buf
      this.buf = null
      try {
        if (this.rstate === R_HEAD) {
          if (!this.readHead(buf)) return
        } else if (this.rstate === R_LENGTH) this.readLength(buf)
        else if (this.rstate === R_CHUNKED) this.readChunked(buf)
        else if (this.rstate === R_UNTIL_CLOSE) this.user.onUpstreamData(buf)
        else if (this.rstate === R_TUNNEL) this.buf = buf
        else {
          this.destroy() // bytes after a complete response
          return
        }
      } catch (err) {
        this.fail(
          err instanceof GatewayError ? err : new GatewayError('UPSTREAM_INVALID_RESPONSE', String(err)),
        )
        this.socket.destroy()
        return
      }
      if (this.rstate === R_TUNNEL) return
    }
  }

  /** Returns false when the head is incomplete (the bytes are kept). */
  private readHead(buf: Buffer): boolean {
    const end = scanResponseHead(buf, 0, MAX_RESPONSE_HEAD)
    if (end === -1) {
      this.buf = buf
      return false
    }
    const head = parseResponseHead(buf, 0, end, MAX_RESPONSE_HEADERS)
    this.buf = end < buf.length ? buf.subarray(end) : null
    const user = this.user!
    if (head.status === 101) {
      this.rstate = R_TUNNEL
      user.onUpstreamHead(head)
      return true
    }
    if (head.status < 200) {
      user.onUpstreamInformational(head)
      return true
    }
    this.reusable = head.keepAlive
    if (!responseHasBody(this.method, head.status)) {
      this.rstate = R_DONE
      user.onUpstreamHead(head)
      this.complete(undefined)
    } else if (head.chunked) {
      this.rstate = R_CHUNKED
      this.decoder = new ChunkedDecoder('UPSTREAM_INVALID_RESPONSE')
      user.onUpstreamHead(head)
    } else if (head.contentLength >= 0) {
      this.rstate = R_LENGTH
      this.remaining = head.contentLength
      user.onUpstreamHead(head)
      if (this.remaining === 0) this.complete(undefined)
    } else {
      // RFC 9112 §6.3 item 8: no length means the body ends when the connection does.
      this.rstate = R_UNTIL_CLOSE
      this.reusable = false
      user.onUpstreamHead(head)
    }
    return true
  }

  private readLength(buf: Buffer): void {
    if (buf.length <= this.remaining) {
      this.remaining -= buf.length
      this.user!.onUpstreamData(buf)
      if (this.remaining === 0) this.complete(undefined)
      return
    }
    // More bytes than the response declared: forward what is ours, then refuse reuse.
    const mine = buf.subarray(0, this.remaining)
    this.remaining = 0
    this.reusable = false
    this.user!.onUpstreamData(mine)
    this.complete(undefined)
  }

  private readChunked(buf: Buffer): void {
    const decoder = this.decoder!
    const end = decoder.feed(buf, 0, this)
    if (end === -1) return
    this.decoder = null
    if (end < buf.length) this.reusable = false
    this.complete(decoder.trailers)
  }

  /** ChunkSink: decoded response body data. */
  chunkData(data: Buffer): void {
    this.user!.onUpstreamData(data)
  }

  private complete(trailers: string[] | undefined): void {
    this.rstate = R_DONE
    this.buf = null
    const user = this.user
    if (user !== null) user.onUpstreamEnd(trailers)
  }

  private onEnd(): void {
    if (this.rstate === R_UNTIL_CLOSE && this.user !== null) {
      this.reusable = false
      this.complete(undefined)
    } else if (this.user !== null && this.rstate !== R_DONE) {
      this.fail(new GatewayError('UPSTREAM_RESET', 'upstream closed the connection mid-response'))
    }
    this.destroy()
  }

  private onSocketError(err: NodeJS.ErrnoException): void {
    const connecting = this.state === CONNECTING
    this.fail(mapSocketError(err, connecting))
    if (!connecting) this.destroy()
  }

  private onClose(): void {
    if (this.user !== null && this.rstate !== R_DONE && this.rstate !== R_TUNNEL) {
      this.fail(new GatewayError('UPSTREAM_RESET', 'upstream connection closed'))
    }
    this.markClosed()
  }

  private fail(err: GatewayError): void {
    if (this.state === CONNECTING) {
      this.state = CLOSED
      this.deadlines.delete(this)
      this.owner.onConnectFailed(this, err)
      return
    }
    const user = this.user
    this.user = null
    this.rstate = R_DONE
    if (user !== null) user.onUpstreamError(err)
  }

  private markClosed(): void {
    this.deadlines.delete(this)
    if (this.state === CLOSED) return
    this.state = CLOSED
    this.owner.onClosed(this)
  }
}

/** mapSocketError turns errno codes into stable gateway codes. */
export function mapSocketError(err: NodeJS.ErrnoException, connecting: boolean): GatewayError {
  if (err instanceof GatewayError) return err // a chained proxy's refusal or timeout, classified
  const code = err.code ?? ''
  if (code === 'ECONNREFUSED')
    return new GatewayError('UPSTREAM_CONNECT_REFUSED', err.message, { cause: err })
  if (connecting) return new GatewayError('UPSTREAM_CONNECT_FAILED', err.message, { cause: err })
  return new GatewayError('UPSTREAM_RESET', err.message, { cause: err })
}
