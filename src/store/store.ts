/**
 * The `Store` capability: the state gateways share. Rate limits, circuit and
 * health state and caches keep what must outlive a request here, never in a
 * private map that silently becomes per-worker when workers arrive.
 *
 * Three implementations pass one conformance suite (test/store/conformance.ts):
 * - `memory` (memory.ts): one event loop; the default.
 * - `shared` (shared.ts): every worker of one instance, exact; one owner (the
 *   supervisor) holds the data and workers ask it over a message port.
 * - `redis` (redis.ts): every instance, through node-redis; every atomic
 *   decision is one round trip (a Lua script).
 *
 * Values are strings (counters are decimal integer strings, as in Redis).
 * Every operation is atomic on its key. Failures reject with a `StoreError`
 * (errors.ts) whose `code` is stable.
 */

/** Which implementation a store is; also the `store:` value routes name. */
export type StoreKind = 'memory' | 'shared' | 'redis'

/** Options of `Store.set`. */
export interface SetOptions {
  /** Expire the key after this many milliseconds; absent: the key never expires. */
  ttlMs?: number
  /** Only set when the key does not exist (Redis `SET NX`); default false. */
  ifAbsent?: boolean
}

/** Options of `Store.incr`. */
export interface IncrOptions {
  /**
   * Expiry given to the key when it has none, i.e. on the increment that
   * creates it: a fixed window's counter expires one window after its first
   * hit, and later increments do not push it back. Absent: no expiry.
   */
  ttlMs?: number
}

/** What a script's reply may be: what a Lua script can return through Redis. */
export type ScriptReply = string | number | null | readonly (string | number | null)[]

/**
 * What `UpdateScript.run` decides for its key: a new value (`value: string`,
 * with `ttlMs` as its expiry, or its current expiry kept when `ttlMs` is
 * absent), deletion (`value: null`), or no change (`value` absent); and the
 * reply `Store.update` resolves with.
 */
export interface ScriptOutcome<R extends ScriptReply = ScriptReply> {
  value?: string | null
  ttlMs?: number
  reply: R
}

/**
 * A script-like atomic update of one key, written twice: once in Lua for
 * Redis (`KEYS[1]` is the key, `ARGV` the arguments as strings; the time is
 * `redis.call('TIME')`), once in JavaScript for memory and shared stores. The
 * two must agree; the conformance suite runs each script a module ships on
 * every store.
 *
 * `run` must be self-contained, like the Lua: the shared store sends its
 * source text to the worker that owns the data and compiles it there, so it
 * may not use closures, imports or globals other than the language's own.
 * Write it as an arrow or `function` expression.
 *
 * Lua numbers reach the caller as integers (Redis truncates them); return
 * strings for fractions.
 */
export interface UpdateScript<R extends ScriptReply = ScriptReply> {
  /** A stable, unique name; the shared store caches the compiled `run` by it. */
  readonly name: string
  /** The Redis side (see above). */
  readonly lua: string
  /** The JavaScript side: `current` is the key's value, `now` the store's clock in ms. */
  readonly run: (current: string | undefined, args: readonly string[], now: number) => ScriptOutcome<R>
}

/** Stops a subscription; resolves once the store no longer delivers to its handler. */
export type Unsubscribe = () => Promise<void>

/** Receives one published message. Thrown errors are reported, never propagated. */
export type MessageHandler = (message: string) => void

/** `Store.ttl` when the key exists without an expiry (Redis PTTL's convention). */
export const TTL_NONE = -1
/** `Store.ttl` when the key does not exist (Redis PTTL's convention). */
export const TTL_MISSING = -2

/**
 * Store is the shared-state capability. Every method is one atomic step on
 * one key and, on Redis, one round trip.
 */
export interface Store {
  readonly kind: StoreKind
  /**
   * True when every operation is a message to another process (the shared
   * store in a worker, Redis): what callers batch or lease to save.
   */
  readonly roundTrip?: boolean

  /** get resolves with the key's value, or undefined when it is absent or expired. */
  get(key: string): Promise<string | undefined>

  /** set stores `value`; resolves false only when `ifAbsent` was asked and the key exists. */
  set(key: string, value: string, options?: SetOptions): Promise<boolean>

  /** delete removes the key; resolves whether it existed. */
  delete(key: string): Promise<boolean>

  /**
   * incr adds `by` (default 1, may be negative) to the integer at `key`
   * (absent counts as 0) and resolves with the new value. With `ttlMs`, a
   * key without an expiry gets one (see `IncrOptions`). Rejects with
   * `STORE_WRONG_TYPE` when the value is not an integer.
   */
  incr(key: string, by?: number, options?: IncrOptions): Promise<number>

  /**
   * compareAndSet sets `key` to `next` only when its value is `expected`
   * (undefined: only when absent); resolves whether it did. `ttlMs` as in
   * `set` (absent: no expiry).
   */
  compareAndSet(
    key: string,
    expected: string | undefined,
    next: string,
    options?: { ttlMs?: number },
  ): Promise<boolean>

  /** ttl resolves with the key's remaining life in ms, `TTL_NONE` or `TTL_MISSING`. */
  ttl(key: string): Promise<number>

  /** update runs `script` atomically on `key` and resolves with its reply. */
  update<R extends ScriptReply>(
    key: string,
    script: UpdateScript<R>,
    args?: readonly (string | number)[],
  ): Promise<R>

  /**
   * publish sends `message` to every subscriber of `channel` in every
   * process sharing this store (itself included). Delivery is at most once:
   * a subscriber that is disconnected at the time misses it.
   */
  publish(channel: string, message: string): Promise<void>

  /**
   * subscribe calls `handler` for each message on `channel`. Resolves once
   * the subscription is active: a publish after that reaches it.
   */
  subscribe(channel: string, handler: MessageHandler): Promise<Unsubscribe>

  /** close releases connections and timers; later operations reject with `STORE_CLOSED`. */
  close(): Promise<void>
}
