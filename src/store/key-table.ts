/**
 * KeyTable is the data of the memory and shared stores: keys with values and
 * expiry times, every operation synchronous (so atomic on one event loop).
 * The memory store wraps it in promises; the shared store's host answers
 * workers from one. Expired keys are dropped when read and by a periodic,
 * bounded sweep, so keys nobody reads again do not stay forever.
 */
import { StoreError } from './errors.ts'
import {
  TTL_MISSING,
  TTL_NONE,
  type IncrOptions,
  type ScriptReply,
  type SetOptions,
  type StoreKind,
  type UpdateScript,
} from './store.ts'

interface Entry {
  value: string | number
  /** Clock time in ms after which the entry is gone; Infinity: never. */
  expiresAt: number
}

/** Options of a KeyTable. */
export interface KeyTableOptions {
  /** The clock, in ms; default Date.now. Tests inject one to expire keys deterministically. */
  now?: () => number
  /** How often expired keys are swept; default 5000 ms; 0 disables the timer (tests sweep by hand). */
  sweepIntervalMs?: number
  /** Keys examined per sweep at most, so one sweep never stalls the loop; default 10,000. */
  sweepBatch?: number
  /** Reported in errors. */
  kind?: StoreKind
}

export class KeyTable {
  readonly now: () => number
  readonly #entries = new Map<string, Entry>()
  readonly #kind: StoreKind
  readonly #sweepBatch: number
  #cursor: MapIterator<[string, Entry]> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(options: KeyTableOptions = {}) {
    this.now = options.now ?? Date.now
    this.#kind = options.kind ?? 'memory'
    this.#sweepBatch = options.sweepBatch ?? 10_000
    const interval = options.sweepIntervalMs ?? 5000
    if (interval > 0) {
      this.#timer = setInterval(() => this.sweep(), interval)
      // The sweep only frees memory; it must never keep a process alive.
      this.#timer.unref()
    }
  }

  /** size counts the entries held, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size
  }

  /** get returns the live value of `key`, or undefined. */
  get(key: string): string | undefined {
    const e = this.#live(key)
    return e === undefined ? undefined : String(e.value)
  }

  /** set stores `value`; false when `ifAbsent` and a live value exists. */
  set(key: string, value: string, options?: SetOptions): boolean {
    if (options?.ifAbsent && this.#live(key) !== undefined) return false
    this.#entries.set(key, { value, expiresAt: this.#expiry(options?.ttlMs) })
    return true
  }

  /** delete removes `key`; whether a live value existed. */
  delete(key: string): boolean {
    const existed = this.#live(key) !== undefined
    this.#entries.delete(key)
    return existed
  }

  /** incr adds `by` to the integer at `key`; see Store.incr. */
  incr(key: string, by = 1, options?: IncrOptions): number {
    const e = this.#live(key)
    if (e === undefined) {
      this.#entries.set(key, { value: by, expiresAt: this.#expiry(options?.ttlMs) })
      return by
    }
    const current = typeof e.value === 'number' ? e.value : toInteger(e.value)
    if (current === undefined)
      throw new StoreError('STORE_WRONG_TYPE', this.#kind, `${key} is not an integer`)
    e.value = current + by
    if (e.expiresAt === Infinity && options?.ttlMs !== undefined) e.expiresAt = this.#expiry(options.ttlMs)
    return e.value
  }

  /** compareAndSet sets `next` when the live value is `expected`; see Store.compareAndSet. */
  compareAndSet(key: string, expected: string | undefined, next: string, ttlMs?: number): boolean {
    const e = this.#live(key)
    const current = e === undefined ? undefined : String(e.value)
    if (current !== expected) return false
    this.#entries.set(key, { value: next, expiresAt: this.#expiry(ttlMs) })
    return true
  }

  /** ttl returns the remaining ms, TTL_NONE or TTL_MISSING. */
  ttl(key: string): number {
    const e = this.#live(key)
    if (e === undefined) return TTL_MISSING
    return e.expiresAt === Infinity ? TTL_NONE : e.expiresAt - this.now()
  }

  /** update runs `script.run` on `key` and applies its outcome; see Store.update. */
  update<R extends ScriptReply>(key: string, run: UpdateScript<R>['run'], args: readonly string[]): R {
    const e = this.#live(key)
    const now = this.now()
    let outcome
    try {
      outcome = run(e === undefined ? undefined : String(e.value), args, now)
    } catch (err) {
      throw new StoreError('STORE_SCRIPT_FAILED', this.#kind, `script failed: ${String(err)}`, { cause: err })
    }
    if (outcome.value === null) this.#entries.delete(key)
    else if (outcome.value !== undefined) {
      const expiresAt = outcome.ttlMs !== undefined ? now + outcome.ttlMs : (e?.expiresAt ?? Infinity)
      this.#entries.set(key, { value: outcome.value, expiresAt })
    }
    return outcome.reply
  }

  /**
   * sweep drops expired entries, examining at most `sweepBatch` of them and
   * continuing from there next time (a Map iterator stays valid across
   * deletions and sees entries added later).
   */
  sweep(): void {
    const now = this.now()
    this.#cursor ??= this.#entries.entries()
    for (let i = 0; i < this.#sweepBatch; i++) {
      const next = this.#cursor.next()
      if (next.done) {
        this.#cursor = undefined
        return
      }
      const [key, entry] = next.value
      if (entry.expiresAt <= now) this.#entries.delete(key)
    }
  }

  /** close stops the sweep timer and drops every key. */
  close(): void {
    clearInterval(this.#timer)
    this.#entries.clear()
    this.#cursor = undefined
  }

  #live(key: string): Entry | undefined {
    const e = this.#entries.get(key)
    if (e === undefined) return undefined
    if (e.expiresAt <= this.now()) {
      this.#entries.delete(key)
      return undefined
    }
    return e
  }

  #expiry(ttlMs: number | undefined): number {
    return ttlMs === undefined ? Infinity : this.now() + ttlMs
  }
}

/** toInteger reads a decimal integer string as Redis INCRBY does; undefined otherwise. */
function toInteger(text: string): number | undefined {
  if (!/^-?\d{1,16}$/.test(text)) return undefined
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : undefined
}
