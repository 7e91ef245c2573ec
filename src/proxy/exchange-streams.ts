/**
 * ExchangeStreams is the streaming half of a ProxyExchange (exchange.ts):
 * it sends the request head and body to the upstream connection, and the
 * response head and body back to the client, with backpressure both ways,
 * response hooks and body transforms, and protocol switches. Which target,
 * how many tries, and what a failure becomes are the exchange's.
 */
import { performance } from 'node:perf_hooks'
import type { Duplex } from 'node:stream'
import type { Expirable } from '../core/deadlines.ts'
import type { GatewayError } from '../core/errors.ts'
import { toGatewayError } from '../core/errors.ts'
import { HeaderList } from '../core/header-list.ts'
import { type HookLists, type ResponseHeadView, runMutateHooks, type UpstreamRequest } from '../core/hooks.ts'
import type { Session } from '../core/session.ts'
import type { IndexedFieldSink } from '../http1/fields.ts'
import { HeldBody } from '../http1/held-body.ts'
import type { ResponseHead } from '../http1/response-head.ts'
import { serializeInformational, serializeResponseHead } from '../http1/serialize.ts'
import type { CompiledRoute } from '../routing/router.ts'
import type { UpstreamConnection, UpstreamUser } from '../upstream/connection.ts'
import type { Target, Upstream } from '../upstream/upstream.ts'
import type { ClientSide, ExchangeRuntime } from './client-side.ts'
import { refuseSwitch, responseHopFields, serializeRequestHead } from './forwarding.ts'
import { CONTINUE_100, reframeRequest, RequestBodyCollector, type WholeRequestBody } from './request-body.ts'
import { RequestBodyTransformer } from './request-transform.ts'
import { RequestWriter } from './request-writer.ts'
import { chooseFraming, ResponseWriter } from './response-writer.ts'
import type { RetryState } from './retry-state.ts'
import { startTunnel } from './tunnel.ts'
import { offerReadableExtensions } from './websocket-relay.ts'

// What the exchange's deadline guards.
export const P_QUEUE = 0
export const P_SENDING = 1
export const P_WAITING = 2
export const P_RECEIVING = 3
export const P_DONE = 4
/** Waiting to retry (backoff or Retry-After). */
export const P_BACKOFF = 5

export abstract class ExchangeStreams implements UpstreamUser, Expirable {
  deadline = 0
  /** True once a response head went to the client: failures then close the connection. */
  responseStarted = false
  protected phase = P_QUEUE
  protected up: UpstreamConnection | null = null
  protected target: Target | undefined = undefined
  /** The serialized request head for the current target (kept for a replay on a new connection). */
  protected head: string | undefined = undefined
  /** The whole request body was written upstream. */
  protected requestSent = false
  protected upstreamPaused = false
  /** Response body events held while response hooks run (see runResponseHooks); null otherwise. */
  protected heldOut: HeldBody | null = null
  protected done = false
  /** The status of the current try's upstream response head (0 before one arrived). */
  protected tryStatus = 0
  /** Reads the request body whole for a rewrite (request-body.ts); null otherwise. */
  protected collector: RequestBodyCollector | null = null
  /** The request body a whole-body rewrite made; undefined without one (or until it is made). */
  protected whole: WholeRequestBody | undefined = undefined
  /** Runs the request body through the session's streaming transform (request-transform.ts); null otherwise. */
  protected transformer: RequestBodyTransformer | null = null
  /** What waits for the collected body: the first try's start, or the head of the try holding a connection. */
  protected afterBody: UpstreamRequest | (() => void) | undefined = undefined
  /** Retries and timeouts beyond the phases' own, when the route or upstream configures them. */
  protected rs: RetryState | null = null
  protected readonly client: ClientSide
  protected readonly session: Session
  protected readonly upstream: Upstream
  protected readonly rt: ExchangeRuntime
  protected readonly route: CompiledRoute
  /** The route's hooks (its modules' and the user's). */
  protected readonly hooks: HookLists
  /** Frames the response for the client. */
  protected readonly out: ResponseWriter
  /** Frames the request body for the upstream. */
  protected readonly req: RequestWriter

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
    if (session.requestTransform !== undefined && this.req.framing !== 'none')
      this.transformRequest(session.requestTransform)
    // The message relay reads every frame: only extensions it can read (permessage-deflate) may be agreed.
    if (session.head.upgradeProtocol !== undefined && this.hooks.onWebSocketMessage.length > 0)
      offerReadableExtensions(session.head)
  }

  abstract expire(now: number): void
  abstract onUpstreamError(err: GatewayError): void
  /** setDeadline sets the phase's deadline `ms` from now (within the try's and the request's). */
  protected abstract setDeadline(ms: number): void
  /**
   * headArrived (for requests with retries, hedging or a timeout): a
   * racing hedge loses; true when the status is retried (the response is
   * dropped), false to forward it.
   */
  protected abstract headArrived(head: ResponseHead): boolean
  /** closeTry reports the end of the current try. */
  protected abstract closeTry(err: GatewayError | undefined): void
  /** release returns the connection to its pool after a complete response. */
  protected abstract release(): void
  /** finish ends the exchange's bookkeeping (deadline, counters). */
  protected abstract finish(): void
  /** fail answers the client with `err` (or closes it once the response started). */
  protected abstract fail(err: GatewayError): void

  /** requestData forwards request body bytes (through the transform, if any); false asks the client side to pause. */
  requestData(data: Buffer): boolean {
    if (this.transformer !== null && !this.done) return this.transformer.requestData(data)
    return this.forwardData(data)
  }

  /** forwardData sends body bytes on (the client's, or the transform's output); false: hold off. */
  private forwardData(data: Buffer): boolean {
    if (this.done) return true
    if (this.collector !== null) return this.collect(data)
    if (this.rs !== null) this.rs.body?.data(data)
    if (!this.req.headSent) {
      this.req.holdData(data)
      return false
    }
    if (this.phase === P_SENDING) this.setDeadline(this.upstream.config.timeouts.idle)
    return this.req.write(this.up, data)
  }

  requestEnd(trailers: string[] | undefined): void {
    if (this.transformer !== null && !this.done) return this.transformer.requestEnd(trailers)
    this.forwardEnd(trailers)
  }

  private forwardEnd(trailers: string[] | undefined): void {
    if (this.done) return
    if (this.collector !== null) return this.collector.requestEnd(trailers)
    if (this.rs !== null) this.rs.body?.end(trailers)
    if (!this.req.headSent) {
      this.req.holdEnd(trailers)
      return
    }
    this.req.end(this.up, trailers)
    this.requestSent = true
    if (this.phase === P_SENDING) this.waitForResponse()
  }

  /**
   * collectBody reads the whole request body for the session's rewrite
   * (request-body.ts) instead of streaming it: before the first try (an
   * onRequest hook asked; `then` starts it) or, holding the connection, once
   * the onUpstreamRequest hooks asked (`then` is the head, sent after). A
   * try that fails meanwhile does not restart the reading: the next try's
   * head waits for the same body (or finds it made).
   */
  protected collectBody(then: UpstreamRequest | (() => void)): void {
    const s = this.session
    this.afterBody = then
    if (typeof then !== 'function') {
      this.phase = P_SENDING
      this.setDeadline(this.upstream.config.timeouts.idle)
      if (this.rs !== null) this.rs.tryAt = 0 // the client's pace, not the upstream's: not a try's time
    }
    if (this.collector !== null) return
    const c = (this.collector = new RequestBodyCollector(s.requestBody!, (err, whole) => {
      if (this.collector !== c || this.done) return
      this.collector = null
      if (err !== undefined) return this.fail(err)
      this.whole = whole!
      this.req.holdWhole(whole!.body, whole!.trailers)
      this.rs?.replaceBody(whole!.body, s.method, whole!.trailers)
      const after = this.afterBody
      this.afterBody = undefined
      if (typeof after === 'function') after()
      else if (after !== undefined && this.up !== null) this.headFrom(after)
      // else: between tries; the next connection's head is made with the body (this.whole)
    }))
    this.req.takeHeld(c) // what arrived before the rewrite was asked for is the body's start
    if (this.collector !== c) return // over the cap already
    if (s.head.expectContinue && s.head.minor === 1 && s.bytesIn === 0) this.client.write(CONTINUE_100)
    this.client.resumeReading()
  }

  /** collect: a body slice for the whole-body rewrite; the client keeps sending (the cap bounds it). */
  private collect(data: Buffer): boolean {
    if (this.phase === P_SENDING) this.setDeadline(this.upstream.config.timeouts.idle)
    this.collector!.requestData(data)
    return true
  }

  /** headFrom sends the head the onUpstreamRequest hooks left, its framing fields fixed for a rewritten body. */
  protected headFrom(req: UpstreamRequest): void {
    if (this.whole !== undefined) reframeRequest(req.headers, this.whole)
    this.head = serializeRequestHead(req.method, req.path, req.headers.raw)
    this.sendHead()
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

  protected sendHead(): void {
    this.phase = P_SENDING
    this.setDeadline(this.upstream.config.timeouts.idle)
    if (this.req.sendHead(this.up!.socket, this.head!, this.up!, this.client.reading))
      this.forwardEnd(this.req.heldTrailers)
    else if (this.req.framing === 'none') {
      this.requestSent = true
      this.waitForResponse()
    } else this.resumeRequest()
  }

  /** resumeRequest: the upstream takes body bytes again, the transform's output (if any) and the client's. */
  private resumeRequest(): void {
    this.transformer?.resumeOutput()
    this.client.resumeReading()
  }

  /** transformRequest sends the body through the session's transform; its length is unknown, so it goes chunked. */
  private transformRequest(stream: Duplex): void {
    this.req.framing = 'chunked'
    this.transformer = new RequestBodyTransformer(stream, {
      data: (b) => this.forwardData(b),
      end: (trailers) => this.forwardEnd(trailers),
      error: (err) => this.done || this.fail(toGatewayError(err, 'HOOK_FAILED')),
      drain: () => this.done || this.client.resumeReading(),
    })
  }

  protected waitForResponse(): void {
    this.phase = P_WAITING
    this.setDeadline(this.upstream.config.timeouts.response)
  }

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
    if (this.rs !== null && this.headArrived(head)) return
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
  protected runResponseHooks(head: ResponseHead): void {
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
  protected startTransform(view: ResponseHeadView): void {
    view.headers.delete('content-length')
    this.out.pipeThrough(view.bodyTransform!, this.session.head.minor, {
      drain: () => this.resumeUpstream(),
      end: () => this.endResponse(undefined),
      error: (err) => this.fail(toGatewayError(err, 'INTERNAL_ERROR')),
    })
    if (this.out.framing === 'close') this.client.closeAfter = true
  }

  protected resumeUpstream(): void {
    if (!this.upstreamPaused || this.up === null) return
    this.upstreamPaused = false
    this.up.socket.resume()
  }

  protected writeResponseHead(
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

  protected endResponse(trailers: string[] | undefined): void {
    if (this.done) return
    this.closeTry(undefined)
    this.out.end(trailers)
    this.finish()
    this.client.responseComplete()
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
    this.resumeRequest()
  }

  protected upgrade(head: ResponseHead): void {
    const up = this.up!
    const refused = refuseSwitch(this.session.head.upgradeProtocol, head.upgrade)
    if (refused !== undefined) {
      this.fail(refused)
      return
    }
    this.session.status = 101
    this.session.upgradeHeaders = head.rawHeaders
    this.responseStarted = true
    this.closeTry(undefined)
    this.finish()
    this.up = null
    const ws = this.hooks.onWebSocketMessage
    startTunnel(this.client, up, head, this.session, ws, this.rt.config.limits.maxWebSocketMessage)
  }
}
