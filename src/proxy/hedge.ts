/**
 * HedgeTry is the second try of a hedged request (a route's `hedge`): sent
 * to another target when the first try has no response head after the
 * configured delay, racing it. Only bodiless requests with idempotent
 * methods are hedged, so the same head can go out twice. The first response
 * head wins: a winning hedge hands its connection, mid-response, to its
 * exchange (UpstreamConnection.handOver); the loser is cancelled.
 */
import { performance } from 'node:perf_hooks'
import { GatewayError } from '../core/errors.ts'
import type { ResponseHead } from '../http1/response-head.ts'
import type { UpstreamConnection, UpstreamUser } from '../upstream/connection.ts'
import type { PoolWaiter } from '../upstream/pool.ts'
import type { Target } from '../upstream/upstream.ts'
import type { TryFailure } from './retry-state.ts'

/** What a hedged try that lost the race reports. */
export const HEDGE_LOST = new GatewayError('UPSTREAM_TRY_CANCELLED', 'the other hedged try answered first')

/** What a hedge reports to its exchange. */
export interface HedgeOwner {
  /** The hedge's response head came first. */
  hedgeWon(hedge: HedgeTry, head: ResponseHead): void
  /** The hedge failed before a response head. */
  hedgeFailed(hedge: HedgeTry, err: GatewayError, why: TryFailure): void
  /** The batch bracket of the read that carried the winning head ends (see UpstreamUser). */
  onUpstreamBatchEnd(): boolean
}

export class HedgeTry implements PoolWaiter, UpstreamUser {
  /** When the hedge's target was picked (performance.now()). */
  readonly t0 = performance.now()
  conn: UpstreamConnection | null = null
  private cancelled = false
  private won = false
  readonly target: Target
  /** The request head, serialized for this target. */
  readonly head: string
  private readonly owner: HedgeOwner
  private readonly method: string

  constructor(owner: HedgeOwner, target: Target, head: string, method: string) {
    this.owner = owner
    this.target = target
    this.head = head
    this.method = method
  }

  onConnection(conn: UpstreamConnection): void {
    if (this.cancelled) {
      conn.reusable = true
      this.target.pool.release(conn)
      return
    }
    this.conn = conn
    conn.attach(this, this.method)
    conn.socket.write(this.head, 'latin1')
  }

  onPoolError(err: GatewayError): void {
    if (!this.cancelled) this.owner.hedgeFailed(this, err, 'connect')
  }

  onUpstreamHead(head: ResponseHead): void {
    this.won = true
    this.owner.hedgeWon(this, head)
  }

  onUpstreamError(err: GatewayError): void {
    this.conn = null
    if (!this.cancelled) this.owner.hedgeFailed(this, err, err.code === 'UPSTREAM_RESET' ? 'reset' : 'other')
  }

  // Interim responses are not forwarded from a hedge; body events only come after the head, to the exchange.
  onUpstreamInformational(): void {}
  onUpstreamData(): void {}
  onUpstreamEnd(): void {}
  onUpstreamDrain(): void {}
  onUpstreamBatchStart(): void {}

  onUpstreamBatchEnd(): boolean {
    return this.won && this.owner.onUpstreamBatchEnd()
  }

  /** cancel withdraws the hedge: its connection is closed mid-request, or its wait for one ends. */
  cancel(): void {
    this.cancelled = true
    const conn = this.conn
    this.conn = null
    if (conn !== null) conn.destroy()
    else this.target.pool.cancel(this)
  }
}
