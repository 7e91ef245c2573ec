/**
 * RetryState is what an exchange keeps to retry a request and to bound it in
 * time (src/upstream/retry/policy.ts): the policy, tries made, the retry
 * slot held in the upstream's limits, the request body kept for replay, and
 * the per-try and whole-request deadlines. Made only for requests whose
 * route or upstream configures retries or a timeout: others pay nothing.
 */
import type { Session } from '../core/session.ts'
import type { ResourceLimits } from '../upstream/circuit/limits.ts'
import type { HedgeTry } from './hedge.ts'
import { backoffDelay, isIdempotent, retryAfterMs, type RetryPolicy } from '../upstream/retry/policy.ts'

/**
 * Why a try failed, as a retry sees it: `connect` (nothing was sent),
 * `reset`, `timeout`, `other` (never retried), or the response status.
 */
export type TryFailure = 'connect' | 'reset' | 'timeout' | 'other' | number

/** ReplayBody keeps copies of a request body (the client's read buffers are reused) up to a size. */
export class ReplayBody {
  chunks: Buffer[] = []
  bytes = 0
  ended = false
  trailers: string[] | undefined = undefined
  /** The body outgrew the bound: it can no longer be sent again. */
  overflowed = false
  private readonly max: number

  constructor(max: number) {
    this.max = max
  }

  data(chunk: Buffer): void {
    if (this.overflowed) return
    this.bytes += chunk.length
    if (this.bytes > this.max) {
      this.overflowed = true
      this.chunks = []
      return
    }
    this.chunks.push(Buffer.from(chunk))
  }

  end(trailers: string[] | undefined): void {
    this.ended = true
    this.trailers = trailers
  }
}

export class RetryState {
  readonly policy: RetryPolicy | null
  /** Tries counted against the policy's attempts (the first included). */
  tries = 1
  /** This request holds one of the upstream's retry slots (limits.retries). */
  holdsSlot = false
  /** The whole request's deadline (Deadlines clock), 0 for none. */
  overallAt = 0
  /** The current try's deadline, 0 for none. */
  tryAt = 0
  /** The backoff timer while waiting to retry. */
  timer: NodeJS.Timeout | undefined = undefined
  /** The request body kept for replay; null when there is none or it may not be replayed. */
  body: ReplayBody | null
  /** The request has a body. */
  private readonly hasBody: boolean
  /** A route's `hedge.delay` when this request may be hedged, else 0. */
  readonly hedgeDelay: number
  hedgeTimer: NodeJS.Timeout | undefined = undefined
  /** The hedged second try while it races the first. */
  hedge: HedgeTry | null = null

  constructor(
    policy: RetryPolicy | null,
    session: Session,
    framing: 'none' | 'length' | 'chunked',
    hedgeDelay: number,
  ) {
    this.policy = policy
    this.hasBody = framing !== 'none'
    // The same head goes out twice: only without a body, for a method safe to repeat, never an upgrade.
    this.hedgeDelay =
      hedgeDelay > 0 &&
      framing === 'none' &&
      isIdempotent(session.method) &&
      session.head.upgradeProtocol === undefined
        ? hedgeDelay
        : 0
    const head = session.head
    this.body =
      policy !== null &&
      framing !== 'none' &&
      (policy.unsafeMethods || isIdempotent(session.method)) &&
      (framing === 'chunked' || head.contentLength <= policy.bodyBuffer)
        ? new ReplayBody(policy.bodyBuffer)
        : null
  }

  /**
   * replaceBody: a whole-body rewrite (request-body.ts) made the body; it is
   * what a retry sends again, with the same trailers (already in memory, so
   * the bodyBuffer bound does not apply), when the policy lets this method
   * be replayed.
   */
  replaceBody(body: Buffer, method: string, trailers: string[] | undefined): void {
    const p = this.policy
    if (p === null || !(p.unsafeMethods || isIdempotent(method))) {
      this.body = null
      return
    }
    const whole = new ReplayBody(Number.POSITIVE_INFINITY)
    whole.chunks = [body]
    whole.bytes = body.length
    whole.ended = true
    whole.trailers = trailers
    this.body = whole
  }

  /** bound limits a phase's deadline `d` (0: none) by the try's and the request's. */
  bound(d: number): number {
    let limit = this.overallAt
    if (this.tryAt !== 0 && (limit === 0 || this.tryAt < limit)) limit = this.tryAt
    if (limit === 0) return d
    return d === 0 || limit < d ? limit : d
  }

  /**
   * retryDelay decides whether a failed try is retried and returns the wait
   * before the next one, or -1. `sent`: request bytes went out on this try;
   * `retryAfter`: the response's Retry-After, raw. Takes a retry slot.
   */
  retryDelay(
    why: TryFailure,
    sent: boolean,
    retryAfter: string | undefined,
    method: string,
    limits: ResourceLimits,
    now: number,
  ): number {
    const p = this.policy
    if (p === null || why === 'other' || this.tries >= p.attempts) return -1
    if (sent && why !== 'connect') {
      if (!p.unsafeMethods && !isIdempotent(method)) return -1
      if (why === 'reset' ? !p.onReset : why === 'timeout' ? !p.onTimeout : !p.statuses.has(why)) return -1
      // A body not kept (too large, or not eligible) cannot be sent again.
      if (this.hasBody && (this.body === null || this.body.overflowed)) return -1
    }
    let delay = backoffDelay(p, this.tries)
    const after = retryAfterMs(retryAfter, Date.now())
    if (after !== undefined) {
      if (after > p.retryAfterMax) return -1
      delay = Math.max(delay, after)
    }
    if (this.overallAt !== 0 && now + delay >= this.overallAt) return -1
    if (!this.takeSlot(limits)) return -1
    this.tries++
    return delay
  }

  /** takeSlot holds one of the upstream's retry slots for this request (budget, maxRetries); false when refused. */
  takeSlot(limits: ResourceLimits): boolean {
    if (this.holdsSlot) return true
    if (!limits.mayStartRetry(this.policy?.budget)) return false
    limits.retries++
    this.holdsSlot = true
    return true
  }
}

/** retryAfterField finds the Retry-After value of a response head's fields. */
export function retryAfterField(raw: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'retry-after') return raw[i + 1]
  return undefined
}
