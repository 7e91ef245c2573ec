/**
 * ProxyExchange carries one request to an upstream target and its response
 * back: it waits for a pooled connection, sends the rewritten head, streams
 * the body both ways with backpressure, and maps every upstream failure to a
 * stable error. It holds at most one body chunk per direction beyond what the
 * sockets buffer, so memory stays flat whatever the body size.
 */
import { performance } from 'node:perf_hooks'
import type { Expirable } from '../core/deadlines.ts'
import { GatewayError, toGatewayError } from '../core/errors.ts'
import { HeaderList } from '../core/header-list.ts'
import { type HookLists, type ResponseHeadView, runMutateHooks, type UpstreamRequest } from '../core/hooks.ts'
import type { Session } from '../core/session.ts'
import type { IndexedFieldSink } from '../http1/fields.ts'
import type { ResponseHead } from '../http1/response-head.ts'
import { serializeInformational, serializeResponseHead } from '../http1/serialize.ts'
import type { CompiledRoute } from '../routing/router.ts'
import type { UpstreamConnection, UpstreamUser } from '../upstream/connection.ts'
import type { PoolWaiter } from '../upstream/pool.ts'
import type { Target, Upstream } from '../upstream/upstream.ts'
import { refuseSwitch, responseHopFields, serializeRequestHead, upstreamHeaders } from './forwarding.ts'
import { chooseFraming, ResponseWriter } from './response-writer.ts'
import { RequestWriter } from './request-writer.ts'
import { startTunnel } from './tunnel.ts'
import type { ClientSide, ExchangeRuntime } from './client-side.ts'
import { mayReplay } from './replay.ts'
import { HeldBody } from '../http1/held-body.ts'
import { type UpstreamTryMessage, upstreamTryChannel } from '../observe/channels.ts'

/** What a try that the client abandoned reports: not the target's fault. */
const CLIENT_ABORTED = new GatewayError('CLIENT_ABORTED', 'the client left during the try')

// What the exchange's deadline guards.
const P_QUEUE = 0
const P_SENDING = 1
const P_WAITING = 2
const P_RECEIVING = 3
const P_DONE = 4

export class ProxyExchange implements UpstreamUser, PoolWaiter, Expirable {
  deadline = 0
  /** True once a response head went to the client: failures then close the connection. */
  responseStarted = false
  private phase = P_QUEUE
  private up: UpstreamConnection | null = null
  private target: Target | undefined = undefined
  private head: string | undefined = undefined
  /** The whole request body was written upstream. */
  private requestSent = false
  private upstreamPaused = false
  /** Response body events held while response hooks run (see runResponseHooks); null otherwise. */
  private heldOut: HeldBody | null = null
  private retried = false
  private done = false
  /** When the current try's target was picked (performance.now()); -1 when no try is open. */
  private tryT0 = -1
  /** The status of the current try's upstream response head (0 before one arrived). */
  private tryStatus = 0
  private readonly client: ClientSide
  private readonly session: Session
  private readonly upstream: Upstream
  private readonly rt: ExchangeRuntime
  private readonly route: CompiledRoute
  /** The route's hooks (its modules' and the user's). */
  private readonly hooks: HookLists
  /** Frames the response for the client. */
  private readonly out: ResponseWriter
  /** Frames the request body for the upstream. */
  private readonly req: RequestWriter

  constructor(
    client: ClientSide,
    session: Session,
    upstream: Upstream,
    rt: ExchangeRuntime,
    route: CompiledRoute,
  ) {
    this.client = client
    this.session = session
    this.upstream = upstream
    this.rt = rt
    this.route = route
    this.hooks = route.hooks
    this.out = new ResponseWriter(client)
    this.req = new RequestWriter(session.head)
  }

  start(): void {
    let target: Target | undefined
    try {
      target = this.pickTarget()
    } catch (err) {
      this.fail(toGatewayError(err, 'HOOK_FAILED'))
      return
    }
    if (target === undefined) {
      this.fail(
        new GatewayError(this.upstream.unavailableCode(), `upstream ${this.upstream.name} has no target`),
      )
      return
    }
    this.target = target
    this.session.target = target.origin
    this.session.attempts++
    this.openTry()
    this.phase = P_QUEUE
    this.deadline = this.rt.deadlines.at(this.upstream.config.pool.queueTimeout)
    this.rt.deadlines.add(this)
    target.pool.acquire(this)
  }

  /** pickTarget asks selectUpstream hooks first, then the balancer. */
  private pickTarget(): Target | undefined {
    const hooks = this.hooks.selectUpstream
    const targets = this.upstream.targets
    for (let i = 0; i < hooks.length; i++) {
      const chosen = hooks[i]!(this.session as never, targets)
      if (chosen !== undefined && targets.includes(chosen as Target)) return chosen as Target
    }
    return this.upstream.pick(this.session)
  }

  // --- request side, called by the client connection ---

  /** requestData forwards request body bytes; false asks the client side to pause. */
  requestData(data: Buffer): boolean {
    if (this.done) return true
    if (!this.req.headSent) {
      this.req.holdData(data)
      return false
    }
    if (this.phase === P_SENDING) this.deadline = this.rt.deadlines.at(this.upstream.config.timeouts.idle)
    return this.req.write(this.up, data)
  }

  requestEnd(trailers: string[] | undefined): void {
    if (this.done) return
    if (!this.req.headSent) {
      this.req.holdEnd(trailers)
      return
    }
    this.req.end(this.up, trailers)
    this.requestSent = true
    if (this.phase === P_SENDING) this.waitForResponse()
  }

  /** keepsRequestBytes tells whether request body bytes handed over are still referenced (held, or queued on the upstream socket). */
  keepsRequestBytes(): boolean {
    return this.req.keepsBytes()
  }

  /** onClientReadEnd: the client read being handled is done; what it produced for the upstream goes out. */
  onClientReadEnd(): void {
    this.req.flush()
  }

  /** onClientDrain resumes what a slow client paused: the transform, or else the upstream. */
  onClientDrain(): void {
    if (this.out.onClientDrain()) return
    if (this.upstreamPaused && this.up !== null) {
      this.upstreamPaused = false
      this.up.socket.resume()
    }
  }

  /** abort: the client left or its request broke. Frees the upstream connection. */
  abort(): void {
    if (this.done) return
    this.closeTry(CLIENT_ABORTED)
    this.finish()
    this.target?.pool.cancel(this)
    this.up?.destroy()
    this.up = null
  }

  // --- PoolWaiter ---

  onConnection(conn: UpstreamConnection): void {
    if (this.done) {
      conn.reusable = true
      this.target!.pool.release(conn)
      return
    }
    this.up = conn
    conn.attach(this, this.session.method)
    this.session.timings.upstreamConnected ||= performance.now() - this.session.t0
    if (this.head !== undefined) {
      this.sendHead()
      return
    }
    const headers = upstreamHeaders(
      this.session,
      this.rt.policyFor(this.route),
      this.target!.hostHeader,
      this.req.framing,
    )
    const path = this.target!.basePath + this.session.head.target
    if (this.hooks.onUpstreamRequest.length === 0) {
      this.head = serializeRequestHead(this.session.method, path, headers)
      this.sendHead()
      return
    }
    const req: UpstreamRequest = { method: this.session.method, path, headers: new HeaderList(headers) }
    runMutateHooks(this.hooks.onUpstreamRequest as never, this.session, req, (err) => {
      if (this.done) return
      if (err !== undefined) return this.fail(toGatewayError(err, 'HOOK_FAILED'))
      this.head = serializeRequestHead(req.method, req.path, req.headers.raw)
      this.sendHead()
    })
  }

  onPoolError(err: GatewayError): void {
    if (!this.done) this.fail(err)
  }

  private sendHead(): void {
    this.phase = P_SENDING
    this.deadline = this.rt.deadlines.at(this.upstream.config.timeouts.idle)
    if (this.req.sendHead(this.up!.socket, this.head!, this.up!, this.client.reading))
      this.requestEnd(this.req.heldTrailers)
    else if (this.req.framing === 'none') {
      this.requestSent = true
      this.waitForResponse()
    } else this.client.resumeReading()
  }

  private waitForResponse(): void {
    this.phase = P_WAITING
    this.deadline = this.rt.deadlines.at(this.upstream.config.timeouts.response)
  }

  // --- UpstreamUser: the response ---

  onUpstreamInformational(head: ResponseHead): void {
    // RFC 9110 §15.2: 1xx go to HTTP/1.1 clients only; a 100 only if it asked for one.
    if (this.session.head.minor === 0) return
    if (head.status === 100 && !this.session.head.expectContinue) return
    this.client.write(serializeInformational(head.status, head.reason, head.rawHeaders))
  }

  onUpstreamHead(head: ResponseHead): void {
    const s = this.session
    s.timings.upstreamHead = performance.now() - s.t0
    this.tryStatus = head.status
    this.phase = P_RECEIVING
    this.deadline = this.rt.deadlines.at(this.upstream.config.timeouts.idle)
    if (head.status === 101) {
      this.upgrade(head)
      return
    }
    this.out.framing = chooseFraming(this.session.method, head, this.session.head.minor)
    if (this.out.framing === 'close') this.client.closeAfter = true
    // RFC 9110 §10.1.1: a final answer to `Expect: 100-continue` before any body byte means
    // the client will not send it and we cannot skip it; the connection ends, so say so.
    if (s.head.expectContinue && !this.requestSent && s.bytesIn === 0) this.client.closeAfter = true
    if (this.session.head.upgradeProtocol !== undefined) this.up!.reusable = false
    if (this.hooks.onResponse.length === 0) {
      this.writeResponseHead(head.status, head.reason, head, head.connectionOptions)
      return
    }
    this.runResponseHooks(head)
  }

  /**
   * Response hooks may be async: body bytes and the end that arrive meanwhile
   * are held (the upstream is paused) until the head has been written.
   */
  private runResponseHooks(head: ResponseHead): void {
    const view: ResponseHeadView = {
      status: head.status,
      reason: head.reason,
      headers: new HeaderList(head.rawHeaders),
    }
    const held = (this.heldOut = new HeldBody())
    this.up!.socket.pause()
    runMutateHooks(this.hooks.onResponse as never, this.session, view, (err) => {
      if (this.done) return
      this.heldOut = null
      if (err !== undefined) return this.fail(toGatewayError(err, 'HOOK_FAILED'))
      if (view.bodyTransform !== undefined && this.out.framing !== 'none') this.startTransform(view)
      const reason = view.status === head.status ? head.reason : ''
      this.writeResponseHead(view.status, reason, view.headers.raw, head.connectionOptions)
      const chunks = held.takeChunks()
      if (chunks !== null) for (const b of chunks) this.onUpstreamData(b)
      if (held.takeEnd()) this.onUpstreamEnd(held.trailers)
      else {
        this.out.flushHead()
        if (!this.upstreamPaused) this.up?.socket.resume()
      }
    })
  }

  /** startTransform routes the body through a hook's stream; its length is unknown, so framing changes. */
  private startTransform(view: ResponseHeadView): void {
    view.headers.delete('content-length')
    this.out.pipeThrough(view.bodyTransform!, this.session.head.minor, {
      drain: () => this.resumeUpstream(),
      end: () => this.endResponse(undefined),
      error: (err) => this.fail(toGatewayError(err, 'INTERNAL_ERROR')),
    })
    if (this.out.framing === 'close') this.client.closeAfter = true
  }

  private resumeUpstream(): void {
    if (!this.upstreamPaused || this.up === null) return
    this.upstreamPaused = false
    this.up.socket.resume()
  }

  private writeResponseHead(
    status: number,
    reason: string,
    fields: readonly string[] | IndexedFieldSink,
    options: string[] | undefined,
  ): void {
    const s = this.session
    s.status = status
    this.responseStarted = true
    // Held until the first body bytes (or the end of this upstream read), so
    // that a small response leaves in one write: one syscall instead of two.
    this.out.holdHead(
      serializeResponseHead(status, reason, fields, {
        framing: this.out.framing,
        close: this.client.closingAfterResponse(),
        keepAliveHeader: s.head.minor === 0,
        extra: responseHopFields(this.rt.policy, this.rt.config.proxy.echoRequestId, s.id),
        connectionOptions: options,
        upgrade: undefined,
      }),
    )
  }

  onUpstreamData(data: Buffer): void {
    if (this.phase === P_RECEIVING) this.deadline = this.rt.deadlines.at(this.upstream.config.timeouts.idle)
    if (this.heldOut !== null) {
      this.heldOut.data(data)
      return
    }
    if (!this.out.body(data) && !this.upstreamPaused && this.up !== null) {
      this.upstreamPaused = true
      this.up.socket.pause()
    }
  }

  onUpstreamEnd(trailers: string[] | undefined): void {
    if (this.heldOut !== null) {
      this.heldOut.end(trailers)
      return
    }
    this.phase = P_DONE
    this.deadline = 0
    if (this.requestSent) this.release()
    else {
      // Answered before the request body was sent: the connection is mid-message, unusable.
      this.up?.destroy()
      this.up = null
    }
    if (this.out.bodyEnd()) this.endResponse(trailers) // else the transform's end does
  }

  private endResponse(trailers: string[] | undefined): void {
    if (this.done) return
    this.closeTry(undefined)
    this.out.end(trailers)
    this.finish()
    this.client.responseComplete()
  }

  onUpstreamError(err: GatewayError): void {
    const conn = this.up
    this.up = null
    if (this.done) return
    if (
      conn !== null &&
      !this.retried &&
      !this.responseStarted &&
      mayReplay(conn, this.session.method, this.req.framing)
    ) {
      this.retried = true
      this.req.headSent = false
      this.closeTry(err)
      this.session.attempts++
      this.openTry()
      this.phase = P_QUEUE
      this.deadline = this.rt.deadlines.at(this.upstream.config.pool.queueTimeout)
      this.target!.pool.acquire(this, true)
      return
    }
    this.fail(err)
  }

  // One writev per upstream read instead of one write per piece: measured
  // to matter, each write to a socket is a syscall.
  onUpstreamBatchStart(): void {
    this.out.beginBatch()
  }

  onUpstreamBatchEnd(): boolean {
    const sock = this.client.socket
    this.out.endBatch()
    // What the socket could not send at once it keeps by reference.
    return sock.writableLength > 0 || this.heldOut !== null || this.out.transforming
  }

  onUpstreamDrain(): void {
    this.client.resumeReading()
  }

  private upgrade(head: ResponseHead): void {
    const up = this.up!
    const refused = refuseSwitch(this.session.head.upgradeProtocol, head.upgrade)
    if (refused !== undefined) {
      this.fail(refused)
      return
    }
    this.session.status = 101
    this.responseStarted = true
    this.closeTry(undefined)
    this.finish()
    this.up = null
    startTunnel(this.client, up, head, this.session)
  }

  expire(): void {
    switch (this.phase) {
      case P_QUEUE:
        this.target?.pool.cancel(this)
        this.fail(new GatewayError('UPSTREAM_QUEUE_TIMEOUT', 'no connection free in time'))
        return
      case P_WAITING:
        this.fail(new GatewayError('UPSTREAM_RESPONSE_TIMEOUT', 'no response head in time'))
        return
      default:
        this.fail(new GatewayError('UPSTREAM_IDLE_TIMEOUT', 'upstream idle'))
    }
  }

  private openTry(): void {
    this.tryT0 = performance.now()
    this.target!.tryStarted()
  }

  /**
   * closeTry reports the end of the open try to the target's observers
   * (health, breakers, latency) and, when someone listens, on the
   * `portcullis:upstream:try` channel (metrics, traces, the error log).
   */
  private closeTry(err: GatewayError | undefined): void {
    if (this.tryT0 < 0) return
    const ms = performance.now() - this.tryT0
    this.tryT0 = -1
    const status = this.tryStatus
    this.tryStatus = 0
    const code = err?.code
    this.target!.tryEnded(status, code, ms)
    if (upstreamTryChannel.hasSubscribers)
      upstreamTryChannel.publish({
        gateway: this.rt.owner,
        session: this.session,
        upstream: this.upstream.name,
        target: this.target!.origin,
        status,
        code,
        error: err,
        ms,
        attempt: this.session.attempts,
      } satisfies UpstreamTryMessage)
  }

  private release(): void {
    const up = this.up
    this.up = null
    if (up === null) return
    if (up.socket.isPaused()) up.socket.resume() // a pooled socket must flow again
    this.target!.pool.release(up)
  }

  private finish(): void {
    this.req.flush()
    this.out.destroy()
    this.done = true
    this.deadline = 0
    this.rt.deadlines.delete(this)
  }

  private fail(err: GatewayError): void {
    const up = this.up
    this.up = null
    up?.destroy()
    this.closeTry(err)
    this.finish()
    if (this.responseStarted) this.client.abortResponse(err)
    else this.client.respondError(err)
  }
}
