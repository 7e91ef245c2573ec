/**
 * The `memory` store: the data of one event loop (one worker), in a
 * KeyTable. It is the default and the fastest; with several workers each has
 * its own, so a limit kept here is per worker. Use `shared` for one instance
 * and `redis` for many.
 */
import { StoreError } from './errors.ts'
import { KeyTable, type KeyTableOptions } from './key-table.ts'
import { LocalHub } from './local-hub.ts'
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

/** Options of a MemoryStore: the KeyTable's (clock, sweep) and a name for diagnostics. */
export interface MemoryStoreOptions extends KeyTableOptions {
  /** The name diagnostics report; default `memory`. */
  name?: string
}

/** MemoryStore implements Store on one event loop. Operations never fail for lack of a service. */
export class MemoryStore implements Store {
  readonly kind: StoreKind
  /** The data, exposed for the shared store's host, which answers workers from it synchronously. */
  readonly table: KeyTable
  /** The subscribers, exposed for the shared store's host, which forwards to workers through it. */
  readonly hub: LocalHub
  #closed = false

  constructor(options: MemoryStoreOptions = {}) {
    this.kind = options.kind ?? 'memory'
    this.table = new KeyTable({ ...options, kind: options.kind ?? 'memory' })
    this.hub = new LocalHub(options.kind ?? 'memory', options.name ?? 'memory')
  }

  async get(key: string): Promise<string | undefined> {
    this.#open()
    return this.table.get(key)
  }

  async set(key: string, value: string, options?: SetOptions): Promise<boolean> {
    this.#open()
    return this.table.set(key, value, options)
  }

  async delete(key: string): Promise<boolean> {
    this.#open()
    return this.table.delete(key)
  }

  async incr(key: string, by = 1, options?: IncrOptions): Promise<number> {
    this.#open()
    return this.table.incr(key, by, options)
  }

  async compareAndSet(
    key: string,
    expected: string | undefined,
    next: string,
    options?: { ttlMs?: number },
  ): Promise<boolean> {
    this.#open()
    return this.table.compareAndSet(key, expected, next, options?.ttlMs)
  }

  async ttl(key: string): Promise<number> {
    this.#open()
    return this.table.ttl(key)
  }

  async update<R extends ScriptReply>(
    key: string,
    script: UpdateScript<R>,
    args: readonly (string | number)[] = [],
  ): Promise<R> {
    this.#open()
    return this.table.update(key, script.run, args.map(String))
  }

  async publish(channel: string, message: string): Promise<void> {
    this.#open()
    this.hub.deliver(channel, message)
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<Unsubscribe> {
    this.#open()
    const sub = this.hub.add(channel, handler)
    return async function unsubscribe() {
      sub.remove()
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.table.close()
    this.hub.clear()
  }

  #open(): void {
    if (this.#closed) throw new StoreError('STORE_CLOSED', this.kind, 'store is closed')
  }
}
