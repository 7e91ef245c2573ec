/**
 * StoreRegistry builds the stores a gateway (or one worker of it) uses from
 * the `stores:` configuration, once each: a limit referred to by many routes
 * is one limit, so every feature naming `redis` shares one RedisStore.
 */
import { MemoryStore } from './memory.ts'
import type { RedisStoreOptions } from './redis-options.ts'
import { DeferredStore } from './deferred.ts'
import { SharedStore, type MessagePortLike, type SharedStoreHost } from './shared.ts'
import type { Store, StoreKind } from './store.ts'

/**
 * The validated `stores:` section, keys as in docs/configuration.md and
 * durations in ms (src/config/stores-schema.ts produces it).
 */
export interface StoresOptions {
  memory?: { sweepInterval?: number }
  shared?: { timeout?: number; sweepInterval?: number }
  /** Absent: no feature may use the redis store. */
  redis?: RedisStoresOptions
}

/** `stores.redis`: exactly one of url, cluster and sentinel. */
export interface RedisStoresOptions {
  url?: string
  cluster?: { nodes: string[] }
  sentinel?: RedisStoreOptions['sentinel']
  keyPrefix?: string
  timeout?: number
  connectTimeout?: number
  reconnect?: { minDelay?: number; maxDelay?: number }
}

/** redisStoreOptions maps `stores.redis` to RedisStore's options. */
export function redisStoreOptions(r: RedisStoresOptions): RedisStoreOptions {
  return {
    name: 'redis',
    url: r.url,
    cluster: r.cluster,
    sentinel: r.sentinel,
    keyPrefix: r.keyPrefix,
    operationTimeoutMs: r.timeout,
    connectTimeoutMs: r.connectTimeout,
    reconnect: { minDelayMs: r.reconnect?.minDelay, maxDelayMs: r.reconnect?.maxDelay },
  }
}

/**
 * Where this event loop sits among the workers, for the `shared` store: a
 * worker passes the port its supervisor attached to a SharedStoreHost; the
 * supervisor passes the host itself. With neither (one event loop, no
 * workers), `shared` is a memory store: one loop is exact by itself.
 */
export interface StoreContext {
  sharedPort?: MessagePortLike
  sharedHost?: SharedStoreHost
}

export class StoreRegistry {
  readonly #options: StoresOptions
  readonly #context: StoreContext
  readonly #stores = new Map<StoreKind, Store>()

  constructor(options: StoresOptions = {}, context: StoreContext = {}) {
    this.#options = options
    this.#context = context
  }

  /**
   * get returns the store of `kind`, creating it on first use (a RedisStore
   * starts connecting then). Throws when `redis` is asked for and
   * `stores.redis` is not configured.
   */
  get(kind: StoreKind): Store {
    let store = this.#stores.get(kind)
    if (store === undefined) this.#stores.set(kind, (store = this.#create(kind)))
    return store
  }

  /**
   * ready resolves once every store created so far is loaded and, for Redis,
   * connected or past its connect timeout: a gateway starts serving with its
   * stores up rather than failing its first decisions. Never rejects.
   */
  async ready(): Promise<void> {
    await Promise.all(
      [...this.#stores.values()].map(async (s) => {
        if (!(s instanceof DeferredStore)) return
        const store = await s.ready().catch(() => undefined)
        if (store !== undefined && 'connect' in store)
          await (store as { connect(): Promise<boolean> }).connect()
      }),
    )
  }

  /** close closes every store created (the host's data stays with the host). */
  async close(): Promise<void> {
    const stores = [...this.#stores.entries()]
    this.#stores.clear()
    await Promise.all(
      stores.map(([kind, s]) => (kind === 'shared' && this.#context.sharedHost ? undefined : s.close())),
    )
  }

  #create(kind: StoreKind): Store {
    switch (kind) {
      case 'memory':
        return new MemoryStore({ sweepIntervalMs: this.#options.memory?.sweepInterval })
      case 'shared': {
        const { sharedPort, sharedHost } = this.#context
        const shared = this.#options.shared
        if (sharedHost !== undefined) return sharedHost.store
        if (sharedPort !== undefined) return new SharedStore(sharedPort, { timeoutMs: shared?.timeout })
        return new MemoryStore({ sweepIntervalMs: shared?.sweepInterval, kind: 'shared', name: 'shared' })
      }
      case 'redis': {
        const redis = this.#options.redis
        if (redis === undefined) throw new Error('the redis store is used but stores.redis is not configured')
        // Imported on first use: node-redis is most of the gateway's start-up time otherwise.
        const load = import('./redis.ts').then((m) => new m.RedisStore(redisStoreOptions(redis)))
        return new DeferredStore('redis', load)
      }
    }
  }
}
