/**
 * The `redis` store: state shared by every instance, through node-redis on
 * one server, a Cluster or a Sentinel-watched primary (redis-options.ts).
 *
 * Every operation is one round trip: plain commands where Redis has one
 * (GET, SET PX NX, DEL, INCRBY, PTTL, PUBLISH), a Lua script by EVALSHA
 * otherwise. Each has a deadline (`operationTimeoutMs`, default 250 ms) after
 * which it rejects with STORE_TIMEOUT even when already sent; the offline
 * queue is off, so while Redis is unreachable an operation rejects at once
 * with STORE_UNAVAILABLE; the client reconnects with exponential backoff in
 * the background. Failures are published on `portcullis:store:error`, state
 * changes on `portcullis:store:state`. Subscriptions use a second
 * connection (a subscribed Redis connection can run nothing else), opened
 * on the first subscribe and resubscribed by node-redis after a reconnect.
 */
import { ErrorReply, TimeoutError, TimeoutReadError } from 'redis'
import { reportStoreError, reportStoreState } from './channels.ts'
import { StoreError, type StoreErrorCode } from './errors.ts'
import { LocalHub } from './local-hub.ts'
import {
  openRedisConnection,
  planRedisClient,
  type RedisClientPlan,
  type RedisConnection,
  type RedisStoreOptions,
} from './redis-options.ts'
import { COMPARE_AND_SET, evalScript, INCR_WITH_TTL, lua, type LuaScript } from './redis-scripts.ts'
import type {
  IncrOptions,
  MessageHandler,
  ScriptReply,
  SetOptions,
  Store,
  StoreKind,
  Unsubscribe,
  UpdateScript,
} from './store.ts'

export type { RedisStoreOptions } from './redis-options.ts'

/** RedisStore implements Store on Redis. Construct, then `await connect()` to wait for the first connection. */
export class RedisStore implements Store {
  readonly kind: StoreKind = 'redis'
  readonly roundTrip = true
  readonly #options: RedisStoreOptions
  readonly #name: string
  readonly #prefix: string
  readonly #plan: RedisClientPlan
  readonly #conn: RedisConnection
  /** `#conn` with the operation deadline applied to every command. */
  readonly #cmd: RedisConnection
  readonly #hub: LocalHub
  readonly #scripts = new Map<string, LuaScript>()
  readonly #connected: Promise<void>
  readonly #firstAttempt: Promise<boolean>
  #subscriber: Promise<RedisConnection> | undefined
  #starting = true
  #closed = false

  constructor(options: RedisStoreOptions = {}) {
    this.#options = options
    this.#name = options.name ?? 'redis'
    this.#prefix = options.keyPrefix ?? 'portcullis:'
    this.#hub = new LocalHub('redis', this.#name)
    this.#plan = planRedisClient(options, (attempt, delayMs, error) =>
      reportStoreState({ store: 'redis', name: this.#name, state: 'reconnecting', attempt, delayMs, error }),
    )
    this.#conn = this.#open()
    this.#cmd = this.#conn.withCommandOptions({
      timeout: options.operationTimeoutMs ?? 250,
      rejectInFlight: true,
    })
    // Connecting goes on in the background. Until the first attempt ends
    // (ready or failed), operations wait for it, up to their timeout, rather
    // than fail on a gateway that has just started; after that they fail fast.
    this.#firstAttempt = new Promise<boolean>((resolve) => {
      this.#conn.on('ready', () => resolve(true))
      this.#conn.on('error', () => resolve(false))
    }).finally(() => (this.#starting = false))
    this.#connected = this.#conn.connect().then(
      () => undefined,
      () => undefined,
    )
  }

  /**
   * connect resolves once the first connection is ready, or after
   * `timeoutMs` (default: the connect timeout) whether or not it is; it
   * never rejects. Returns whether Redis is reachable.
   */
  connect(timeoutMs = this.#options.connectTimeoutMs ?? 2000): Promise<boolean> {
    return this.#settled(
      this.#connected.then(() => true),
      timeoutMs,
    )
  }

  /** #settled resolves with `p`'s value, or false after `timeoutMs`. */
  async #settled(p: Promise<boolean>, timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<boolean>((r) => (timer = setTimeout(r, timeoutMs, false)))
    const result = await Promise.race([p, timedOut])
    clearTimeout(timer)
    return result
  }

  /** The client options this store built (mode and node-redis options), for diagnostics and tests. */
  get plan(): RedisClientPlan {
    return this.#plan
  }

  get(key: string): Promise<string | undefined> {
    return this.#run('get', async (c) => (await c.get(this.#prefix + key)) ?? undefined)
  }

  set(key: string, value: string, options?: SetOptions): Promise<boolean> {
    const setOptions: { expiration?: object; condition?: 'NX' } = {}
    if (options?.ttlMs !== undefined) setOptions.expiration = { type: 'PX', value: options.ttlMs }
    if (options?.ifAbsent) setOptions.condition = 'NX'
    return this.#run('set', async (c) => (await c.set(this.#prefix + key, value, setOptions)) !== null)
  }

  delete(key: string): Promise<boolean> {
    return this.#run('delete', async (c) => (await c.del(this.#prefix + key)) > 0)
  }

  incr(key: string, by = 1, options?: IncrOptions): Promise<number> {
    const k = this.#prefix + key
    if (options?.ttlMs === undefined) return this.#run('incr', (c) => c.incrBy(k, by))
    const args = [String(by), String(options.ttlMs)]
    return this.#run('incr', async (c) => Number(await evalScript(c, INCR_WITH_TTL, k, args)))
  }

  compareAndSet(
    key: string,
    expected: string | undefined,
    next: string,
    options?: { ttlMs?: number },
  ): Promise<boolean> {
    const args = [expected ?? '', next, expected === undefined ? '1' : '0', String(options?.ttlMs ?? '')]
    return this.#run(
      'compareAndSet',
      async (c) => (await evalScript(c, COMPARE_AND_SET, this.#prefix + key, args)) === 1,
    )
  }

  ttl(key: string): Promise<number> {
    return this.#run('ttl', (c) => c.pTTL(this.#prefix + key))
  }

  update<R extends ScriptReply>(
    key: string,
    script: UpdateScript<R>,
    args: readonly (string | number)[] = [],
  ): Promise<R> {
    let compiled = this.#scripts.get(script.name)
    if (compiled === undefined || compiled.lua !== script.lua)
      this.#scripts.set(script.name, (compiled = lua(script.lua)))
    const strings = args.map(String)
    return this.#run('update', async (c) => (await evalScript(c, compiled, this.#prefix + key, strings)) as R)
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#run('publish', (c) => c.publish(this.#prefix + channel, message))
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<Unsubscribe> {
    this.#check()
    const sub = this.#hub.add(channel, handler)
    const hub = this.#hub
    const full = this.#prefix + channel
    try {
      const subscriber = await this.#subscriberConnection()
      if (sub.first) await subscriber.subscribe(full, (m) => hub.deliver(channel, m))
    } catch (err) {
      sub.remove()
      throw this.#error('subscribe', err)
    }
    const unsubscribe = async () => {
      if (!sub.remove() || this.#closed) return
      await (await this.#subscriberConnection()).unsubscribe(full).catch(() => {})
    }
    return unsubscribe
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#hub.clear()
    this.#conn.destroy()
    const subscriber = this.#subscriber
    if (subscriber !== undefined) (await subscriber.catch(() => undefined))?.destroy()
  }

  /** #open creates a connection of this store's plan with its event listeners. */
  #open(): RedisConnection {
    const conn = openRedisConnection(this.#plan)
    const base = { store: 'redis' as const, name: this.#name }
    // Without an 'error' listener node-redis's errors would crash the process.
    conn.on('error', (error) => reportStoreState({ ...base, state: 'unavailable', error }))
    conn.on('ready', () => reportStoreState({ ...base, state: 'ready' }))
    return conn
  }

  /** #subscriberConnection opens the pub/sub connection on first use, waiting for it up to the connect timeout. */
  #subscriberConnection(): Promise<RedisConnection> {
    this.#subscriber ??= (async () => {
      const conn = this.#open()
      let timer: NodeJS.Timeout | undefined
      const limit = this.#options.connectTimeoutMs ?? 2000
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new StoreError('STORE_TIMEOUT', 'redis', 'subscriber connect')),
          limit,
        )
      })
      try {
        await Promise.race([conn.connect(), timeout])
      } catch (err) {
        conn.destroy()
        this.#subscriber = undefined
        throw err
      } finally {
        clearTimeout(timer)
      }
      return conn
    })()
    return this.#subscriber
  }

  /** #run executes one operation, mapping every failure to a StoreError. */
  async #run<T>(operation: string, fn: (c: RedisConnection) => Promise<T>): Promise<T> {
    this.#check()
    if (this.#starting) await this.#settled(this.#firstAttempt, this.#options.operationTimeoutMs ?? 250)
    try {
      return await fn(this.#cmd)
    } catch (err) {
      throw this.#error(operation, err)
    }
  }

  #check(): void {
    if (this.#closed) throw new StoreError('STORE_CLOSED', 'redis', 'store is closed')
  }

  /** #error maps a node-redis failure to a stable code and reports it. */
  #error(operation: string, err: unknown): StoreError {
    if (err instanceof StoreError) return err
    const code = this.#closed ? 'STORE_CLOSED' : classify(err)
    const message = `redis ${operation}: ${err instanceof Error ? err.message : String(err)}`
    const error = new StoreError(code, 'redis', message, { cause: err })
    if (code !== 'STORE_WRONG_TYPE' && code !== 'STORE_CLOSED') {
      reportStoreError({ store: 'redis', name: this.#name, operation, code, error })
    }
    return error
  }
}

/** classify names a node-redis failure: a reply error is the script's or the type's, anything else the link's. */
function classify(err: unknown): StoreErrorCode {
  if (err instanceof TimeoutError || err instanceof TimeoutReadError) return 'STORE_TIMEOUT'
  if (err instanceof ErrorReply) {
    if (/WRONGTYPE|not an integer/.test(err.message)) return 'STORE_WRONG_TYPE'
    return 'STORE_SCRIPT_FAILED'
  }
  return 'STORE_UNAVAILABLE'
}
