/**
 * Leases: how a worker decides most requests of a `shared` limit without a
 * message to its supervisor.
 *
 * With workers, the shared store's data lives in the supervisor and every
 * operation is a message round trip; measured (bench/policies.sh, 2
 * workers), a round trip per decision made a proxied small GET cost 64 %
 * more. So a worker takes a limit's decisions in leases: one atomic update
 * (algorithms.ts) counts n requests at once and the worker spends them
 * on its next n requests of that key, for at most `validMs`; what it did
 * not spend it gives back.
 *
 * What stays exact, and what does not:
 * - Never more than the limit is counted out: a lease is taken from the
 *   same state, by the same rule, as n single decisions, and never more
 *   than a quarter of what is left, so near its end a limit is decided one
 *   request at a time as without leases.
 * - Sliding window: a lease is spent only in the window that counted it,
 *   and unused ones are taken off that window's count: counts are exact.
 * - GCRA: a leased request counts from when the lease was taken, so when a
 *   lease of a full bucket waits in a worker before it is spent, the bucket
 *   refills that much earlier: at most `validMs` of the rate more, which
 *   the limit's compile caps at 1 % of the burst. `lease: 0` turns leases
 *   off (a round trip per decision).
 * - A denial is always the store's own, never the worker's guess.
 *
 * A lease's size follows demand: twice what the previous one spent, up to
 * MAX_LEASE, so a key that sees one request now and then takes one at a
 * time and gives nothing back.
 */
import type { Store, UpdateScript } from '../../store/store.ts'
import type { Decision, LeaseReply } from './algorithms.ts'

/** The largest lease a worker asks for. */
const MAX_LEASE = 256
/** Keys with a lease kept per limit and worker; past it the oldest is given back. */
const MAX_KEYS = 10_000

/** How one limit leases: its scripts and their arguments. */
export interface LeasePlan {
  readonly lease: UpdateScript<LeaseReply>
  readonly giveBack: UpdateScript<number>
  /** The lease script's leading arguments (as the single-decision script's). */
  readonly args: readonly string[]
  /** The give-back script's first argument: T (GCRA) or the period (sliding window). */
  readonly unit: string
  /** How long a lease may be spent, in ms. */
  readonly validMs: number
}

interface Entry {
  /** Leased and not yet spent. */
  tokens: number
  /** Spent from the current lease (what the next one is sized by). */
  spent: number
  /** performance.now() from which the unused are given back. */
  until: number
  /** What the limit had left once the lease was counted. */
  remaining: number
  reset: string
  mark: string
  /** The lease being asked for; requests arriving meanwhile wait for it. */
  asking: Promise<LeaseReply> | undefined
}

/** LeaseBook holds one limit's leases in this worker, by store key. */
export class LeaseBook {
  readonly #store: Store
  readonly #plan: LeasePlan
  readonly #entries = new Map<string, Entry>()
  #timer: NodeJS.Timeout | undefined

  constructor(store: Store, plan: LeasePlan) {
    this.#store = store
    this.#plan = plan
  }

  /** take decides one request on `key`: from the lease when it has one, else by asking the store. */
  take(key: string): Decision | Promise<Decision> {
    const e = this.#entries.get(key)
    if (e !== undefined && e.tokens > 0 && performance.now() < e.until) {
      e.tokens--
      e.spent++
      return [1, e.remaining + e.tokens, '0', e.reset]
    }
    return this.#ask(key, e)
  }

  async #ask(key: string, found: Entry | undefined): Promise<Decision> {
    const e = found ?? this.#add(key)
    if (e.asking !== undefined) {
      // Requests that came while a lease was asked for share its outcome when
      // it was a denial or a failure, as the store deciding them in the same
      // batch would (a denial leaves the state as it was); else they spend it.
      const reply = await e.asking
      if (reply[0] === 0) return [0, 0, reply[2], reply[3]]
      return this.take(key)
    }
    if (e.tokens > 0) this.#giveBack(key, e) // expired unspent
    const want = Math.min(MAX_LEASE, Math.max(1, e.spent * 2))
    const sent = performance.now()
    const asking = this.#store.update(key, this.#plan.lease, [...this.#plan.args, want, this.#plan.validMs])
    e.asking = asking
    let reply: LeaseReply
    try {
      reply = await asking
    } finally {
      e.asking = undefined
    }
    // (Waiters resume after this function returns: the lease is recorded before they look.)
    const [n, remaining, retryAfter, reset, validMs, mark] = reply
    e.spent = n === 0 ? 0 : 1
    if (n === 0) return [0, 0, retryAfter, reset]
    e.tokens = n - 1
    // From when it was asked: the store counted it no earlier, so the worker stops no later.
    e.until = sent + validMs
    e.remaining = remaining
    e.reset = reset
    e.mark = mark
    return [1, remaining + e.tokens, '0', reset]
  }

  #add(key: string): Entry {
    if (this.#entries.size >= MAX_KEYS) {
      const [oldest, e] = this.#entries.entries().next().value!
      if (e.asking === undefined) {
        if (e.tokens > 0) this.#giveBack(oldest, e)
        this.#entries.delete(oldest)
      }
    }
    const e: Entry = { tokens: 0, spent: 0, until: 0, remaining: 0, reset: '0', mark: '', asking: undefined }
    this.#entries.set(key, e)
    this.#timer ??= setInterval(this.#sweep, Math.max(5, this.#plan.validMs)).unref()
    return e
  }

  /** #sweep gives back what expired unspent and forgets keys not asked for since. */
  readonly #sweep = (): void => {
    const now = performance.now()
    for (const [key, e] of this.#entries) {
      if (e.asking !== undefined || now < e.until) continue
      if (e.tokens > 0) this.#giveBack(key, e)
      this.#entries.delete(key)
    }
    if (this.#entries.size === 0) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }

  /**
   * #giveBack returns the unspent tokens. A failed give-back loses them
   * (the limit is stricter until they refill), never counts them twice.
   */
  #giveBack(key: string, e: Entry): void {
    const unused = e.tokens
    e.tokens = 0
    this.#store.update(key, this.#plan.giveBack, [this.#plan.unit, unused, e.mark]).catch(() => {})
  }
}
