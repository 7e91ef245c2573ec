/**
 * ProxyExchange carries one request to an upstream target and its response
 * back: it picks a target (balancer, breakers), waits for a pooled
 * connection within the upstream's limits, sends the rewritten head, streams
 * the body both ways with backpressure (exchange-streams.ts), retries a
 * failed try when its policy allows (retry-state.ts), and maps every
 * upstream failure to a stable error. It holds at most one body chunk per
 * direction beyond what the sockets buffer (plus, when retries are on, a
 * copy of a request body up to `retries.bodyBuffer`).
 */
import { performance } from 'node:perf_hooks'
import { GatewayError, toGatewayError } from '../core/errors.ts'
import { HeaderList } from '../core/header-list.ts'
import { runMutateHooks, type UpstreamRequest } from '../core/hooks.ts'
import type { ResponseHead } from '../http1/response-head.ts'
import type { UpstreamConnection } from '../upstream/connection.ts'
import type { PoolWaiter } from '../upstream/pool.ts'
import type { Target } from '../upstream/upstream.ts'
import { ExchangeStreams, P_BACKOFF, P_QUEUE, P_RECEIVING, P_WAITING } from './exchange-streams.ts'
import { serializeRequestHead, upstreamHeaders } from './forwarding.ts'
import { mayReplay } from './replay.ts'
import { dropBodyDigests } from './request-transform.ts'
import { retryPolicyFor } from './retry-policies.ts'
import { RetryState, retryAfterField, type TryFailure } from './retry-state.ts'
import { endTry, noTargetError } from './try-report.ts'
import { HEDGE_LOST, type HedgeOwner, HedgeTry } from './hedge.ts'

/** What a try that the client abandoned reports: not the target's fault. */
const CLIENT_ABORTED = new GatewayError('CLIENT_ABORTED', 'the client left during the try')

/** The backoff timer's callback: no closure per exchange. */
function retryNow(ex: ProxyExchange): void {
  ex.retryNow()
}

/** The hedge timer's callback. */
function hedgeNow(ex: ProxyExchange): void {
  ex.launchHedge()
}

/** admits asks the target's breaker, if any, to let a try through (a half-open one counts it as a probe). */
function admits(t: Target): boolean {
  return t.breaker === null || t.breaker.allow()
}

export class ProxyExchange extends ExchangeStreams implements PoolWaiter, HedgeOwner {
  /** The stale-connection replay (replay.ts) was used. */
  private retried = false
  /** When the current try's target was picked (performance.now()); -1 when no try is open. */
  private tryT0 = -1
  /** The current try waits for a connection and counts in the upstream's `limits.pending`. */
  private queued = false

  start(): void {
    const limits = this.upstream.limits
    if (limits.requests >= limits.maxRequests) {
      limits.refused('requests')
      this.done = true // never counted in limits.requests
      this.client.respondError(new GatewayError('UPSTREAM_OVERFLOW_REQUESTS', 'upstream limits.maxRequests'))
      return
    }
    limits.requests++
    const route = this.route.config
    // Property checks only: the resilience state is made for the routes and upstreams that configure it.
    if (
      this.upstream.config.retries !== undefined ||
      route.retries !== undefined ||
      route.timeout !== undefined ||
      route.hedge !== undefined
    )
      this.rs = this.resilience()
    this.rt.deadlines.add(this)
    // A whole-body rewrite asked for by an onRequest hook: the body is read before any connection is taken.
    if (this.session.requestBody !== undefined) return this.collectBody(() => this.startTry(undefined))
    this.startTry(undefined)
  }

  /** resilience makes the request's retry, hedging and timeout state from its route and upstream. */
  private resilience(): RetryState | null {
    const policy = retryPolicyFor(this.route, this.upstream)
    const { timeout, hedge } = this.route.config
    if (policy === null && timeout === undefined && hedge === undefined) return null // retries: false
    const hedgeDelay = hedge === undefined || this.hooks.onUpstreamRequest.length > 0 ? 0 : hedge.delay
    const rs = new RetryState(policy, this.session, this.req.framing, hedgeDelay)
    if (timeout !== undefined) rs.overallAt = this.rt.deadlines.at(timeout)
    return rs
  }

  /** startTry picks a target (not `failed` when another may take the request) and asks its pool for a connection. */
  private startTry(failed: Target | undefined): void {
    let target: Target | undefined
    try {
      target = this.pickTarget(failed)
      // Half-open with its probes taken (or open, in panic mode): another target, or none.
      if (target !== undefined && !admits(target)) {
        target = this.upstream.pick(this.session, target)
        if (target !== undefined && !admits(target)) target = undefined
      }
    } catch (err) {
      return this.fail(toGatewayError(err, 'HOOK_FAILED'))
    }
    if (target === undefined) return this.fail(noTargetError(this.upstream))
    if (target !== this.target) this.head = undefined // Host and base path are the target's
    this.target = target
    const pool = target.pool
    if (pool.mustWait() && !this.enterQueue(target)) return
    this.session.target = target.origin
    this.session.attempts++
    this.tryT0 = performance.now()
    target.tryStarted()
    const rs = this.rs
    if (rs !== null && rs.policy !== null && rs.policy.perTryTimeout > 0)
      rs.tryAt = this.rt.deadlines.at(rs.policy.perTryTimeout)
    this.phase = P_QUEUE
    this.setDeadline(this.upstream.config.pool.queueTimeout)
    pool.acquire(this)
    if (rs !== null && rs.hedgeDelay > 0 && this.session.attempts === 1)
      rs.hedgeTimer = setTimeout(hedgeNow, rs.hedgeDelay, this)
  }

  /**
   * enterQueue: every connection of the target is busy, so the request
   * waits, counted in `limits.pending`; beyond `limits.maxPending` it is
   * answered 503 at once and false is returned.
   */
  private enterQueue(target: Target): boolean {
    const limits = this.upstream.limits
    limits.overflow.connections++
    if (limits.pending >= limits.maxPending) {
      limits.refused('pending')
      target.breaker?.release()
      this.fail(new GatewayError('UPSTREAM_OVERFLOW_PENDING', 'upstream limits.maxPending'))
      return false
    }
    limits.pending++
    this.queued = true
    return true
  }

  /** pickTarget asks selectUpstream hooks first, then the balancer. */
  private pickTarget(failed: Target | undefined): Target | undefined {
    const hooks = this.hooks.selectUpstream
    const targets = this.upstream.targets
    for (let i = 0; i < hooks.length; i++) {
      const chosen = hooks[i]!(this.session as never, targets)
      if (chosen !== undefined && targets.includes(chosen as Target)) return chosen as Target
    }
    return this.upstream.pick(this.session, failed)
  }

  /** setDeadline sets the phase's deadline `ms` from now, within the try's and the request's, if any. */
  protected setDeadline(ms: number): void {
    const d = this.rt.deadlines.at(ms)
    this.deadline = this.rs === null ? d : this.rs.bound(d)
  }

  // --- request side, called by the client connection ---

  /** abort: the client left or its request broke. Frees the upstream connection. */
  abort(): void {
    if (this.done) return
    this.closeTry(CLIENT_ABORTED)
    if (this.phase === P_QUEUE) this.target?.pool.cancel(this)
    this.finish()
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
    this.leaveQueue()
    this.up = conn
    this.afterBody = undefined // a head made for an earlier try's connection is not this one's
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
    if (this.transformer !== null) dropBodyDigests(headers) // they digest the body before its transform
    const path = this.target!.basePath + this.session.head.target
    if (this.hooks.onUpstreamRequest.length === 0 && this.whole === undefined) {
      this.head = serializeRequestHead(this.session.method, path, headers)
      this.sendHead()
      return
    }
    const req: UpstreamRequest = { method: this.session.method, path, headers: new HeaderList(headers) }
    runMutateHooks(this.hooks.onUpstreamRequest as never, this.session, req, (err) => {
      if (this.done) return
      if (err !== undefined) return this.fail(toGatewayError(err, 'HOOK_FAILED'))
      if (this.session.requestBody !== undefined && this.whole === undefined) return this.collectBody(req)
      this.headFrom(req)
    })
  }

  onPoolError(err: GatewayError): void {
    if (this.done) return
    this.leaveQueue()
    this.tryFailed(err, 'connect')
  }

  // --- UpstreamUser: the response ---

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
      this.tryT0 = performance.now()
      this.target!.tryStarted()
      this.phase = P_QUEUE
      this.setDeadline(this.upstream.config.pool.queueTimeout)
      this.target!.pool.acquire(this, true)
      return
    }
    if (this.phase === P_RECEIVING) return this.fail(err)
    this.tryFailed(err, err.code === 'UPSTREAM_RESET' ? 'reset' : 'other')
  }

  expire(now: number): void {
    const rs = this.rs
    if (rs !== null && this.phase !== P_RECEIVING) {
      if (this.phase === P_QUEUE) this.target?.pool.cancel(this)
      if (rs.overallAt !== 0 && now >= rs.overallAt)
        return this.fail(new GatewayError('UPSTREAM_REQUEST_TIMEOUT', 'route timeout across tries'))
      if (rs.tryAt !== 0 && now >= rs.tryAt) {
        const err = new GatewayError('UPSTREAM_TRY_TIMEOUT', 'no response head within perTryTimeout')
        return this.tryFailed(err, this.req.headSent ? 'timeout' : 'connect')
      }
    }
    switch (this.phase) {
      case P_QUEUE:
        this.target?.pool.cancel(this)
        this.fail(new GatewayError('UPSTREAM_QUEUE_TIMEOUT', 'no connection free in time'))
        return
      case P_WAITING:
        this.tryFailed(new GatewayError('UPSTREAM_RESPONSE_TIMEOUT', 'no response head in time'), 'timeout')
        return
      default:
        this.fail(new GatewayError('UPSTREAM_IDLE_TIMEOUT', 'upstream idle'))
    }
  }

  /**
   * tryFailed ends a try that failed before its response head: retried when
   * the policy, the body, the budget and the deadline allow it, else failed.
   */
  private tryFailed(err: GatewayError, why: TryFailure): void {
    const rs = this.rs
    if (rs !== null && rs.hedge !== null) {
      if (this.tryT0 >= 0) return this.leaveToHedge(err)
      this.dropHedge(err) // waiting for the hedge alone timed out
    }
    if (rs === null || !this.retryLater(err, why, undefined)) this.fail(err)
  }

  protected headArrived(head: ResponseHead): boolean {
    const rs = this.rs!
    if (rs.hedge !== null) this.dropHedge(HEDGE_LOST)
    if (rs.policy === null || !rs.policy.statuses.has(head.status)) return false
    return this.retryLater(undefined, head.status, retryAfterField(head.rawHeaders))
  }

  // --- hedging (hedge.ts) ---

  /** launchHedge sends the hedged second try, when the first still has no response head. */
  launchHedge(): void {
    const rs = this.rs!
    rs.hedgeTimer = undefined
    if (this.done || this.tryT0 < 0 || this.phase > P_WAITING) return
    const target = this.upstream.pick(this.session, this.target)
    if (target === undefined || !rs.takeSlot(this.upstream.limits) || !admits(target)) return
    const headers = upstreamHeaders(this.session, this.rt.policyFor(this.route), target.hostHeader, 'none')
    const head = serializeRequestHead(
      this.session.method,
      target.basePath + this.session.head.target,
      headers,
    )
    this.session.attempts++
    target.tryStarted()
    const hedge = (rs.hedge = new HedgeTry(this, target, head, this.session.method))
    target.pool.acquire(hedge)
  }

  hedgeWon(hedge: HedgeTry, head: ResponseHead): void {
    this.rs!.hedge = null
    if (this.tryT0 >= 0) {
      if (this.phase === P_QUEUE) this.target!.pool.cancel(this)
      this.leaveQueue()
      this.closeTry(HEDGE_LOST)
      this.up?.destroy()
    }
    this.target = hedge.target
    this.session.target = hedge.target.origin
    this.tryT0 = hedge.t0
    this.head = hedge.head
    this.up = hedge.conn
    this.up!.handOver(this)
    this.req.headSent = true
    this.requestSent = true
    this.phase = P_WAITING
    this.onUpstreamBatchStart()
    this.onUpstreamHead(head)
  }

  hedgeFailed(hedge: HedgeTry, err: GatewayError, why: TryFailure): void {
    this.rs!.hedge = null
    endTry(this.rt, this.session, this.upstream, hedge.target, hedge.t0, 0, err)
    if (this.tryT0 < 0 && !this.done) this.tryFailed(err, why) // the first try had failed already
  }

  /** leaveToHedge: the first try failed while a hedge races it; the hedge goes on alone. */
  private leaveToHedge(err: GatewayError): void {
    if (this.phase === P_QUEUE) this.target!.pool.cancel(this)
    this.leaveQueue()
    this.closeTry(err)
    this.up?.destroy()
    this.up = null
    this.phase = P_WAITING
    this.rs!.tryAt = 0
    this.setDeadline(this.upstream.config.timeouts.response)
  }

  /** dropHedge cancels the racing hedge and reports its try's end. */
  private dropHedge(err: GatewayError): void {
    const hedge = this.rs!.hedge!
    this.rs!.hedge = null
    hedge.cancel()
    endTry(this.rt, this.session, this.upstream, hedge.target, hedge.t0, 0, err)
  }

  /**
   * retryLater schedules the next try, unless a byte of the response reached
   * the client or the policy refuses. The failed try's connection is
   * dropped (a retried response is never forwarded).
   */
  private retryLater(
    err: GatewayError | undefined,
    why: TryFailure,
    retryAfter: string | undefined,
  ): boolean {
    const rs = this.rs!
    if (this.responseStarted || this.session.bytesOut > 0) return false
    const sent = this.req.headSent
    const now = this.rt.deadlines.now
    const delay = rs.retryDelay(why, sent, retryAfter, this.session.method, this.upstream.limits, now)
    if (delay < 0) return false
    this.leaveQueue()
    this.closeTry(err)
    this.up?.destroy()
    this.up = null
    if (sent) this.req.rewind(rs.body)
    this.requestSent = false
    this.phase = P_BACKOFF
    rs.tryAt = 0
    this.setDeadline(0)
    rs.timer = setTimeout(retryNow, delay, this)
    return true
  }

  /** retryNow starts the next try, after the backoff. */
  retryNow(): void {
    this.rs!.timer = undefined
    if (!this.done) this.startTry(this.target)
  }

  /** leaveQueue: the try got a connection or failed; it no longer counts as pending. */
  private leaveQueue(): void {
    if (!this.queued) return
    this.queued = false
    this.upstream.limits.pending--
  }

  /** closeTry reports the end of the open try (try-report.ts). */
  protected closeTry(err: GatewayError | undefined): void {
    if (this.tryT0 < 0) return
    const t0 = this.tryT0
    this.tryT0 = -1
    const status = this.tryStatus
    this.tryStatus = 0
    endTry(this.rt, this.session, this.upstream, this.target!, t0, status, err)
  }

  protected release(): void {
    const up = this.up
    this.up = null
    if (up === null) return
    if (up.socket.isPaused()) up.socket.resume() // a pooled socket must flow again
    this.target!.pool.release(up)
  }

  protected finish(): void {
    if (!this.done) {
      const limits = this.upstream.limits
      limits.requests--
      this.leaveQueue()
      const rs = this.rs
      if (rs !== null) {
        if (rs.holdsSlot) limits.retries--
        clearTimeout(rs.timer)
        clearTimeout(rs.hedgeTimer)
        if (rs.hedge !== null) this.dropHedge(HEDGE_LOST)
      }
    }
    this.req.flush()
    this.out.destroy()
    this.transformer?.destroy()
    this.done = true
    this.deadline = 0
    this.rt.deadlines.delete(this)
  }

  protected fail(err: GatewayError): void {
    const up = this.up
    this.up = null
    up?.destroy()
    this.closeTry(err)
    this.finish()
    if (this.responseStarted) this.client.abortResponse(err)
    else this.client.respondError(err)
  }
}
