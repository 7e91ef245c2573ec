/**
 * SharedSlots: a route's concurrency limit across the workers of an instance
 * (the `shared` store) or across instances (`redis`), so `max` is the
 * instance's limit, not each worker's, as nginx's `limit_conn` zone and
 * Envoy's cluster circuit breakers count.
 *
 * Asking the store for every request would cost a message round trip each
 * (what made a shared rate limit cost 64 % more; see rate-limit/leases.ts).
 * So a worker holds slots: a request takes one of the worker's free slots
 * at once; only when it has none does the worker ask the store for more
 * (slots-script.ts), for as many as are waiting. A released slot goes to the
 * worker's oldest waiter, or stays with the worker as a spare; spares not
 * used during a whole SPARE_MS go back to the store, so an idle worker never
 * keeps slots another needs for longer than that. The sum of what workers
 * hold never exceeds `max`, so neither do the requests in progress.
 *
 * What is per worker: the queue (`queue` waiters in each), and its order;
 * a worker whose waiters find the store full asks again every SPARE_MS
 * until a slot is free or they time out. A worker that dies holding slots
 * loses them after HOLD_TTL_MS; a live one renews its claim meanwhile. When
 * the store fails, the waiting requests get 503 (the limit cannot be
 * checked, so it is not exceeded).
 */
import { randomUUID } from 'node:crypto'
import type { HookResult } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import type { Store } from '../../store/store.ts'
import type { ConcurrencyConfig } from '../../config/modules/concurrency.ts'
import { refuse, SlotQueue } from './slots.ts'
import { slotsScript } from './slots-script.ts'

/** Spares unused for this long go back to the store; also the poll period of waiters. */
const SPARE_MS = 10
/** A holder's claim lives this long without news (a dead worker's slots come back after it). */
const HOLD_TTL_MS = 3000
/** The most slots asked for at once. */
const MAX_ASK = 64

export class SharedSlots extends SlotQueue {
  readonly #store: Store
  readonly #key: string
  readonly #id = randomUUID()
  /** Slots this worker holds in the store. */
  #held = 0
  /** A store call is in flight (one at a time, so the counts it states are current). */
  #busy = false
  /** The last ask left requests waiting: the store had no slot. */
  #full = false
  /** The fewest spare slots seen since the last tick: those were not needed. */
  #minSpare = 0
  #lastSent = 0
  #timer: NodeJS.Timeout | undefined

  constructor(store: Store, key: string, cfg: ConcurrencyConfig) {
    super(cfg)
    this.#store = store
    this.#key = key
  }

  /** acquire takes a held slot at once, or waits for the store's answer (and then the queue). */
  acquire(session: Session): HookResult | undefined | Promise<HookResult | undefined> {
    if (this.holders.size < this.#held) {
      this.holders.add(session)
      this.#noteSpare()
      return undefined
    }
    if (this.#full && this.queue.length >= this.cfg.queue) return refuse(session, 'queue full')
    const waiting = this.wait(session)
    this.#call(Math.min(MAX_ASK, this.queue.length))
    return waiting
  }

  /** release ends `session`'s hold (or its wait): the slot goes to the oldest waiter, else it is spare. */
  release(session: Session): void {
    if (!this.leave(session)) return
    this.serve(this.#held)
    this.#noteSpare()
  }

  #noteSpare(): void {
    this.#minSpare = Math.min(this.#minSpare, this.#held - this.holders.size)
    this.#timer ??= setInterval(this.#tick, SPARE_MS).unref()
  }

  /**
   * #call states this worker's count to the store and asks for `want` more
   * (0: only gives back or renews). One call at a time; a want that comes
   * while one is in flight is asked by its answer or the next tick.
   */
  #call(want: number): void {
    if (this.#busy) return
    this.#busy = true
    this.#lastSent = performance.now()
    this.#timer ??= setInterval(this.#tick, SPARE_MS).unref()
    this.#store.update(this.#key, slotsScript, [this.#id, this.#held, want, this.cfg.max, HOLD_TTL_MS]).then(
      ([granted]) => {
        this.#busy = false
        this.#held += granted
        this.serve(this.#held)
        this.#full = this.queue.length > 0 && granted === 0
        // More came meanwhile, and the store had slots: ask for them too.
        if (this.queue.length > 0 && granted > 0) return this.#call(Math.min(MAX_ASK, this.queue.length))
        // The store is full: beyond the queue's size the newest are refused now; the rest wait.
        while (this.queue.length > this.cfg.queue) {
          const w = this.queue.pop()!
          clearTimeout(w.timer)
          w.resolve(refuse(w.session, 'queue full'))
        }
        this.#minSpare = Math.min(this.#minSpare, this.#held - this.holders.size)
      },
      () => {
        this.#busy = false
        for (const w of this.queue.splice(0)) {
          clearTimeout(w.timer)
          w.resolve(refuse(w.session, 'store failed'))
        }
      },
    )
  }

  /**
   * #tick, every SPARE_MS while this worker holds slots or has waiters:
   * waiters ask again; else spares unused since the last tick go back; and
   * a claim with nothing to say is renewed well within HOLD_TTL_MS.
   */
  readonly #tick = (): void => {
    if (this.#busy) return
    const spare = Math.min(this.#minSpare, this.#held - this.holders.size)
    if (this.queue.length > 0) this.#call(Math.min(MAX_ASK, this.queue.length))
    else if (spare > 0) {
      this.#held -= spare
      this.#call(0)
    } else if (this.#held > 0 && performance.now() - this.#lastSent > HOLD_TTL_MS / 3) this.#call(0)
    this.#minSpare = this.#held - this.holders.size
    if (this.#held === 0 && this.queue.length === 0 && !this.#busy) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }
}
