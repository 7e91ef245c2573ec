/**
 * DownstreamConnection serves one client connection: it reads requests with
 * the RequestReader, runs the request phases, hands proxied requests to a
 * ProxyExchange and writes the gateway's own responses. One request is
 * active at a time; pipelined requests wait in the reader (RFC 9112 §9.3.2).
 */
import type net from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Expirable } from '../core/deadlines.ts'
import { GatewayError } from '../core/errors.ts'
import type { GatewayResponse } from '../core/hooks.ts'
import { newRequestId } from '../core/request-id.ts'
import { Session } from '../core/session.ts'
import { HeldBody } from '../http1/held-body.ts'
import { RequestHead } from '../http1/request-head.ts'
import { type RequestHandler, RequestReader } from '../http1/request-reader.ts'
import { ProxyExchange } from '../proxy/exchange.ts'
import { clientIp, incomingRequestId } from '../proxy/forwarding.ts'
import type { CompiledRoute } from '../routing/router.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { UploadGuard } from './upload-guard.ts'
import type { BodyStreamer } from './body-streamer.ts'
import { ClientReads, type ReadOwner } from './client-reads.ts'
import { errorAnswer, sendMadeResponse } from './gateway-response.ts'
import { type PhaseHost, runPhases } from './phases.ts'
import type { ConnectionHost } from './connection-host.ts'
import type { Runtime } from './runtime.ts'

// What the single deadline of a connection currently guards.
const D_NONE = 0
const D_HEAD = 1
const D_KEEPALIVE = 2
const D_BODY = 3
const D_SEND = 4
const D_LINGER = 5

/** After we close with request bytes unread, keep reading (and dropping) them this long so our response is not lost to a reset. */
const LINGER_MS = 2000

export class DownstreamConnection implements RequestHandler, Expirable, PhaseHost, ReadOwner {
  deadline = 0
  readonly socket: net.Socket
  readonly tls: boolean
  private dkind = D_NONE
  private readonly reader: RequestReader
  private readonly host: ConnectionHost
  private readonly peer: string
  private readonly peerPort: number
  private rt: Runtime
  private session: Session | null = null
  private exchange: ProxyExchange | null = null
  /** Streams a gateway-made body (static file, hook answer) while one is being sent. */
  private streamer: BodyStreamer | null = null
  /** Body bytes that arrived before the request's fate was decided, or before it may go upstream. */
  private readonly heldBody = new HeldBody()
  private readonly upload: UploadGuard<CompiledRoute, Upstream>
  private requests = 0
  private bodyDone = true
  private responseDone = true
  /** The current response closes the connection. */
  closeAfter = false
  private closed = false
  private clientEnded = false
  private tunneled = false
  /** True while the bytes of one client read are being handled (see ProxyExchange.onClientReadEnd). */
  reading = false
  /** Plain-TCP reads into a buffer of the connection's own; null for TLS (stream 'data' chunks). */
  private readonly reads: ClientReads | null

  constructor(accepted: net.Socket, host: ConnectionHost, tls: boolean) {
    const reads = tls ? null : new ClientReads(this)
    const own = reads?.adopt(accepted) ?? null
    this.reads = own === null ? null : reads
    const socket = own ?? accepted
    this.socket = socket
    this.host = host
    this.tls = tls
    this.rt = host.runtime
    this.peer = clientIp(socket.remoteAddress)
    this.peerPort = socket.remotePort ?? 0
    this.reader = new RequestReader(this, this.rt.limits, host.entry?.forms)
    this.upload = new UploadGuard(this.rt.uploadLimits)
    socket.setNoDelay(true)
    if (own === null) socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('end', () => this.onClientEnd())
    socket.on('drain', () => this.onDrain())
    socket.on('error', () => {}) // 'close' follows; the session records the abort.
    socket.on('close', () => this.onClose())
    this.setDeadline(D_HEAD, this.rt.config.timeouts.head)
    this.rt.deadlines.add(this)
  }

  /** True when no request is in progress (safe to close on shutdown). */
  get idle(): boolean {
    return this.session === null && this.reader.idle
  }

  /** write sends response bytes (strings as latin1, so length counts bytes) to the client; false means wait for drain. */
  write(data: string | Buffer): boolean {
    if (this.closed) return true
    const s = this.session
    if (s !== null) s.bytesOut += data.length
    const ok = typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data)
    if (!ok) this.setDeadline(D_SEND, this.rt.config.timeouts.send)
    return ok
  }

  /** pauseReading and resumeReading apply request-body backpressure; time not read is not held against a slow body. */
  pauseReading(): void {
    this.socket.pause()
    if (!this.bodyDone) this.upload.paused(performance.now())
  }

  resumeReading(): void {
    if (this.closed || this.reader.buffered >= this.rt.limits.maxHeadSize * 2) return
    this.socket.resume()
    if (!this.bodyDone) this.upload.resumed(performance.now())
  }

  /**
   * closingAfterResponse tells whether the response about to be sent ends the
   * connection. A shutdown that began after the request head arrived counts
   * too: RFC 9112 §9.6 asks a server that will close to say `Connection:
   * close`, else a keep-alive client may send its next request into the close.
   */
  closingAfterResponse(): boolean {
    if (this.host.draining) this.closeAfter = true
    return this.closeAfter
  }

  /** closeIfIdle closes an idle connection (shutdown) fully: a client that never closes held a FIN-only drain. */
  closeIfIdle(): void {
    if (this.idle) this.socket.end(() => this.socket.destroy())
  }

  destroy(): void {
    this.socket.destroy()
  }

  /**
   * detachForTunnel stops HTTP handling after a 101: the connection's
   * listeners and deadline go, later client bytes go to `sink` (which must
   * lend() what it keeps), and unread bytes (the start of the new protocol)
   * are returned. The request is logged when the socket closes.
   */
  detachForTunnel(sink: (data: Buffer) => void): Buffer | null {
    this.tunneled = true
    this.exchange = null
    this.rt.deadlines.delete(this)
    this.socket.removeAllListeners('data')
    this.socket.removeAllListeners('end')
    this.socket.removeAllListeners('drain')
    if (this.reads !== null) this.reads.tunnelTo(sink)
    else this.socket.on('data', sink)
    const rest = this.reader.takeBuffered()
    this.reader.destroy()
    return rest
  }

  /** lend marks the bytes of the current read as kept beyond it (see ReadBuffer); TLS reads are fresh memory. */
  lend(): void {
    this.reads?.lend()
  }

  /** ReadOwner: whether bytes of the read just handled are still referenced here (see ClientReads). */
  keepsReadBytes(): boolean {
    return (
      this.reader.buffered > 0 ||
      this.heldBody.holding ||
      (this.exchange !== null && this.exchange.keepsRequestBytes())
    )
  }

  /** ReadOwner, and the 'data' listener of TLS sockets: handles the bytes of one read. */
  onData(chunk: Buffer): void {
    if (this.dkind === D_LINGER) return
    if (this.session === null && (this.dkind === D_KEEPALIVE || this.dkind === D_NONE)) {
      this.setDeadline(D_HEAD, this.rt.config.timeouts.head)
    }
    this.reading = true
    try {
      this.reader.push(chunk)
    } catch (err) {
      this.reading = false
      this.internalError(err)
      return
    }
    this.reading = false
    this.exchange?.onClientReadEnd()
    if (this.reader.buffered > this.rt.limits.maxHeadSize * 2) this.socket.pause()
  }

  /**
   * internalError is the last line of defence: a bug while handling this
   * connection's bytes fails this connection (500 when nothing was sent yet),
   * never the process.
   */
  private internalError(err: unknown): void {
    process.emitWarning(`portcullis: internal error on a client connection: ${(err as Error)?.stack ?? err}`)
    const ex = this.exchange
    if (this.session !== null && (ex === null || !ex.responseStarted) && !this.closed) {
      try {
        this.onError(new GatewayError('INTERNAL_ERROR', String(err)))
        return
      } catch {
        // fall through to destroy
      }
    }
    this.exchange?.abort()
    this.socket.destroy()
  }

  // --- RequestHandler: the reader's events ---

  onHead(head: RequestHead): void {
    this.rt = this.host.runtime
    const rt = this.rt
    const session = this.openSession(head)
    this.session = session
    this.requests++
    this.bodyDone = !(head.chunked || head.contentLength > 0)
    this.responseDone = false
    this.heldBody.reset()
    this.closeAfter =
      !head.keepAlive ||
      this.requests >= rt.config.limits.maxRequestsPerConnection ||
      this.host.draining ||
      this.clientEnded
    if (this.bodyDone) this.setDeadline(D_NONE, 0)
    else {
      const refused = this.upload.begin(this.peer, session.t0, rt.uploadLimits, rt.uploads)
      if (refused !== undefined) return this.respondError(refused)
      this.armBodyDeadline()
    }
    ;(this.host.entry?.run ?? runPhases)(this, rt, session) // a forward-proxy door has its own phases
  }

  /** openSession starts a request's session, with the client's request id when it is sane, else a new one. */
  private openSession(head: RequestHead): Session {
    const session = new Session(head, this.peer, this.peerPort, this.tls, performance.now())
    session.id =
      incomingRequestId(head.rawHeaders, this.rt.policy.requestIdHeader) ?? newRequestId(session.t0)
    return session
  }

  onBody(data: Buffer): void {
    const session = this.session!
    session.bytesIn += data.length
    if (session.requestBodyTap !== undefined) session.requestBodyTap(data)
    this.upload.received(data.length)
    if (this.dkind === D_BODY) this.armBodyDeadline()
    const ex = this.exchange
    if (ex !== null) {
      this.reads?.noteSink(ex)
      if (!ex.requestData(data)) this.pauseReading()
    } else if (this.upload.gated) {
      this.heldBody.data(data)
      if (!this.upload.holdsBack(session.head, this.heldBody.bytes))
        this.startExchange(session, ...this.upload.openGate())
    } else if (this.heldBody.data(data)) this.pauseReading()
  }

  /** armBodyDeadline guards the body from now: silence (`timeouts.body`) or too slow (UploadGuard). */
  private armBodyDeadline(): void {
    this.dkind = D_BODY
    this.upload.silenceAt = this.rt.deadlines.at(this.rt.config.timeouts.body)
    this.deadline = this.upload.deadline()
  }

  onBodyEnd(trailers: string[] | undefined): void {
    this.bodyDone = true
    this.upload.end()
    if (this.dkind === D_BODY) this.setDeadline(D_NONE, 0)
    const ex = this.exchange
    if (ex !== null) ex.requestEnd(trailers)
    else {
      this.heldBody.end(trailers)
      if (this.upload.gated) this.startExchange(this.session!, ...this.upload.openGate())
    }
    this.maybeFinish()
  }

  onError(err: GatewayError, head?: RequestHead): void {
    // A refused but parsed head (413) keeps the client's request id, like any answered request.
    this.session ??= this.openSession(head ?? new RequestHead())
    this.closeAfter = true
    this.bodyDone = true
    const ex = this.exchange
    this.exchange = null
    ex?.abort()
    if (ex?.responseStarted) this.abortResponse(err)
    else this.respondError(err)
  }

  // --- PhaseHost ---

  get current(): Session | null {
    return this.session
  }

  /** proxy hands the request to an exchange, once the first `limits.bodyBuffer` bytes of its body are read (UploadGuard). */
  proxy(session: Session, route: CompiledRoute, upstream: Upstream): void {
    if (!this.bodyDone && this.upload.holdsBack(session.head, this.heldBody.bytes)) {
      this.upload.gate(route, upstream)
      if (this.socket.isPaused()) this.resumeReading() // paused while the phases ran
    } else this.startExchange(session, route, upstream)
  }

  private startExchange(session: Session, route: CompiledRoute, upstream: Upstream): void {
    const ex = new ProxyExchange(this, session, upstream, this.rt, route)
    this.exchange = ex
    ex.start()
    if (this.heldBody.holding) this.reads?.noteSink(ex)
    this.heldBody.replayTo(ex)
  }

  /** respond sends a response made by the gateway (fixed route, hook answer, error). */
  respond(res: GatewayResponse): void {
    const session = this.session!
    if (!this.bodyDone) {
      // The body is not read yet: drop it and close rather than parse it for nothing.
      this.closeAfter = true
      this.heldBody.discard()
    }
    this.streamer = sendMadeResponse(this, session, res, this.rt.policy.requestIdHeader)
  }

  /** respondError answers a failed request: onError hooks first, then the default error body. */
  respondError(err: GatewayError): void {
    const session = this.session!
    session.error = err
    this.exchange = null
    this.respond(errorAnswer(this.rt.hooks.onError, session, err))
  }

  /** responseComplete is called once the last response byte was written. */
  responseComplete(): void {
    this.responseDone = true
    this.maybeFinish()
  }

  /** abortResponse ends a response that cannot be completed: close, never a truncated success. */
  abortResponse(err: GatewayError): void {
    const session = this.session
    if (session !== null) session.error = err
    this.socket.destroy()
  }

  private maybeFinish(): void {
    if (!this.responseDone) return
    if (!this.bodyDone) {
      // The response is complete but the client is still sending: we cannot
      // find the next request without reading this body, so stop here.
      this.closeAfter = true
      this.heldBody.discard()
    }
    this.finishRequest()
  }

  private finishRequest(): void {
    const session = this.session
    if (session === null) return
    session.timings.end = performance.now() - session.t0
    this.upload.end()
    this.session = null
    this.exchange = null
    this.streamer = null
    this.rt.logSession(session)
    if (this.closeAfter || this.closed || this.host.draining) {
      this.closeGracefully()
      return
    }
    this.setDeadline(D_KEEPALIVE, this.rt.config.timeouts.keepAlive)
    if (this.socket.isPaused()) this.resumeReading()
    this.reader.next()
  }

  private closeGracefully(): void {
    this.reader.destroy()
    if (this.closed) return
    this.socket.end()
    this.setDeadline(D_LINGER, LINGER_MS)
    this.socket.resume()
  }

  private onClientEnd(): void {
    this.clientEnded = true
    if (this.session === null && this.reader.idle) {
      this.socket.end()
      return
    }
    // A half-close (RFC 9112 §9.6) and a client that left look the same on the
    // wire. As nginx does ("client prematurely closed connection"), EOF during
    // a request aborts it, so a slow upstream is not held for nobody.
    this.socket.destroy()
  }

  private onDrain(): void {
    if (this.dkind === D_SEND) {
      if (this.session !== null && !this.bodyDone) this.armBodyDeadline()
      else this.setDeadline(D_NONE, 0)
    }
    this.exchange?.onClientDrain()
    this.streamer?.onClientDrain()
  }

  private onClose(): void {
    this.closed = true
    this.rt.deadlines.delete(this)
    this.reader.destroy()
    const session = this.session
    if (session !== null) {
      if (!this.tunneled) session.error ??= new GatewayError('CLIENT_ABORTED', 'client closed the connection')
      this.exchange?.abort()
      this.streamer?.destroy()
      this.responseDone = true
      this.bodyDone = true
      this.finishRequest()
    }
    this.host.onConnectionClosed(this)
  }

  expire(now: number): void {
    switch (this.dkind) {
      case D_HEAD:
        // Silence before any byte is not worth an answer; a partial head gets 408.
        if (this.reader.readingHead) this.onError(new GatewayError('HEAD_TIMEOUT', 'request head timeout'))
        else this.socket.destroy()
        return
      case D_BODY:
        // Set before the gateway paused or resumed reading: re-armed as it stands now.
        if (this.upload.deadline() > now) this.deadline = this.upload.deadline()
        else if (this.upload.tooSlow(now))
          this.onError(new GatewayError('BODY_TOO_SLOW', 'request body too slow'))
        else this.onError(new GatewayError('BODY_TIMEOUT', 'request body timeout'))
        return
      case D_SEND:
        this.abortResponse(new GatewayError('CLIENT_SEND_TIMEOUT', 'client stopped reading'))
        return
      default:
        this.socket.destroy()
    }
  }

  private setDeadline(kind: number, ms: number): void {
    this.dkind = kind
    this.deadline = kind === D_NONE ? 0 : this.rt.deadlines.at(ms)
  }
}
