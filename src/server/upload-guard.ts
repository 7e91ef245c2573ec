/**
 * Defences of the upstream pools against slow request bodies. Bodies stream
 * upstream, so a body that trickles in holds a pooled connection while it
 * does: an outside test with ~1,100 clients each trickling a body filled a
 * 1,024-connection pool and every other request got 503. nginx avoids it by
 * buffering whole bodies; streaming large bodies is worth keeping, so three
 * bounds instead, each on by default:
 *
 * - **Buffer before connecting** (`limits.bodyBuffer`): the first bytes of a
 *   body, up to this size, are read before an upstream connection is taken.
 *   Most bodies are smaller and go upstream whole in one write; a client that
 *   never gets that far never holds a connection.
 * - **Minimum upload rate** (`limits.minUploadRate` after `timeouts.uploadGrace`,
 *   as Apache's mod_reqtimeout `MinRate`): after the grace period a body must
 *   keep arriving at this rate on average, else 408 `BODY_TOO_SLOW`. Time the
 *   gateway itself stops reading (backpressure, waiting for a connection)
 *   does not count against the client.
 * - **Concurrent uploads per client address** (`limits.maxUploadsPerClient`):
 *   more get 429 `TOO_MANY_UPLOADS`, so one address cannot take a whole pool.
 */
import { GatewayError } from '../core/errors.ts'
import type { RequestHead } from '../http1/request-head.ts'

/** The limits an UploadGuard applies (from `limits` and `timeouts`). */
export interface UploadLimits {
  /** Body bytes read before an upstream connection is taken; 0 streams at once. */
  readonly bodyBuffer: number
  /** Bytes per second a body must average after the grace period; 0 for no minimum. */
  readonly minUploadRate: number
  /** Milliseconds from the head before the minimum rate applies. */
  readonly uploadGrace: number
  /** Concurrent uploads from one client address; 0 for no limit. */
  readonly maxUploadsPerClient: number
}

/**
 * UploadCounts counts the uploads in progress per client address. It lives
 * in the Runtime, so a reload starts a fresh count while uploads begun before
 * it finish against the old one. It is per event loop: with N workers a client
 * may hold N times the limit.
 */
export class UploadCounts {
  private readonly byClient = new Map<string, number>()

  /** enter counts an upload from `client`; false when it is over `max` (not counted then). */
  enter(client: string, max: number): boolean {
    const n = this.byClient.get(client) ?? 0
    if (max > 0 && n >= max) return false
    this.byClient.set(client, n + 1)
    return true
  }

  leave(client: string): void {
    const n = this.byClient.get(client) ?? 0
    if (n <= 1) this.byClient.delete(client)
    else this.byClient.set(client, n - 1)
  }
}

/**
 * UploadGuard watches the body of one client connection's current request.
 * The connection tells it when the body starts, what arrives, when it stops
 * and resumes reading, and when the body ends; it answers with deadlines and
 * whether to hold the body back from the upstream.
 */
export class UploadGuard<Route, Upstream> {
  private limits: UploadLimits
  private counts: UploadCounts | null = null
  private client = ''
  /** The time from which the minimum rate accrues: head + grace, pushed back by our own pauses. */
  private origin = 0
  /** When reading was paused by the gateway; -1 while reading. */
  private pausedAt = -1
  private bytes = 0
  /** The destination of a request held back by holdsBack; null otherwise. */
  gated: [Route, Upstream] | null = null
  /** When the body is over `timeouts.body` of silence (set by the connection on each arrival). */
  silenceAt = 0

  constructor(limits: UploadLimits) {
    this.limits = limits
  }

  /**
   * begin starts watching a request body from `client` at time `now`, under
   * the limits in force. Returns the 429 to answer with when the client
   * already has as many uploads in progress as allowed.
   */
  begin(client: string, now: number, limits: UploadLimits, counts: UploadCounts): GatewayError | undefined {
    this.end()
    this.limits = limits
    if (!counts.enter(client, limits.maxUploadsPerClient))
      return new GatewayError(
        'TOO_MANY_UPLOADS',
        `client ${client} has ${limits.maxUploadsPerClient} uploads in progress`,
      )
    this.counts = counts
    this.gated = null
    this.client = client
    this.origin = now + limits.uploadGrace
    this.pausedAt = -1
    this.bytes = 0
    return undefined
  }

  /** received notes body bytes. */
  received(n: number): void {
    this.bytes += n
  }

  /**
   * paused and resumed bracket time the gateway does not read: it is not
   * the client's, so the slow deadline moves by it.
   */
  paused(now: number): void {
    if (this.pausedAt < 0 && this.counts !== null) this.pausedAt = now
  }

  resumed(now: number): void {
    if (this.pausedAt < 0) return
    this.origin += now - this.pausedAt
    this.pausedAt = -1
  }

  /**
   * slowDeadline is the time at which the body has fallen behind the
   * minimum rate, if nothing more arrives: each byte buys 1/rate seconds
   * past the grace period. 0 (none) without a minimum or while paused.
   */
  slowDeadline(): number {
    const rate = this.limits.minUploadRate
    if (rate === 0 || this.pausedAt >= 0 || this.counts === null) return 0
    return this.origin + (this.bytes * 1000) / rate
  }

  /**
   * holdsBack tells whether the body should be read further before an
   * upstream connection is taken: `buffered` bytes are held so far. A
   * request expecting `100-continue` is not held: its client waits for the
   * upstream's answer before sending the body.
   */
  holdsBack(head: RequestHead, buffered: number): boolean {
    return buffered < this.limits.bodyBuffer && !head.expectContinue
  }

  /** deadline is the earlier of the silence and the slow deadline (0: none). */
  deadline(): number {
    const slow = this.slowDeadline()
    return slow !== 0 && (this.silenceAt === 0 || slow < this.silenceAt) ? slow : this.silenceAt
  }

  /** tooSlow tells whether, at `now`, the body is behind the minimum rate (rather than silent). */
  tooSlow(now: number): boolean {
    const slow = this.slowDeadline()
    return slow !== 0 && slow <= now
  }

  /**
   * gate keeps a proxied request's destination while holdsBack: the
   * connection opens it (openGate) once the buffer is full or the body ended.
   */
  gate(route: Route, upstream: Upstream): void {
    this.gated = [route, upstream]
  }

  openGate(): [Route, Upstream] {
    const gated = this.gated!
    this.gated = null
    return gated
  }

  /** end stops watching (body complete, or the request is over); safe to call twice. */
  end(): void {
    const counts = this.counts
    if (counts === null) return
    this.counts = null
    counts.leave(this.client)
  }
}
