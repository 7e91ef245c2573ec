/**
 * DeferredStore is a Store whose implementation is still loading: the
 * registry hands it out at once (features compile their routes
 * synchronously) while the module behind it is imported, so node-redis
 * (about 185 ms of start-up) is loaded only by a gateway that configures a
 * Redis store. Calls made before it is ready wait for it; later ones go
 * straight through.
 */
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

export class DeferredStore implements Store {
  readonly kind: StoreKind
  #store: Store | undefined
  readonly #ready: Promise<Store>

  constructor(kind: StoreKind, load: Promise<Store>) {
    this.kind = kind
    this.#ready = load.then((s) => (this.#store = s))
    // A failed import rejects each call; it must not also be an unhandled rejection.
    this.#ready.catch(() => {})
  }

  /** ready resolves to the store once loaded (tests and warm-up wait on it). */
  ready(): Promise<Store> {
    return this.#ready
  }

  get(key: string): Promise<string | undefined> {
    return this.#store?.get(key) ?? this.#ready.then((s) => s.get(key))
  }

  set(key: string, value: string, options?: SetOptions): Promise<boolean> {
    return this.#store?.set(key, value, options) ?? this.#ready.then((s) => s.set(key, value, options))
  }

  delete(key: string): Promise<boolean> {
    return this.#store?.delete(key) ?? this.#ready.then((s) => s.delete(key))
  }

  incr(key: string, by?: number, options?: IncrOptions): Promise<number> {
    return this.#store?.incr(key, by, options) ?? this.#ready.then((s) => s.incr(key, by, options))
  }

  compareAndSet(
    key: string,
    expected: string | undefined,
    next: string,
    options?: { ttlMs?: number },
  ): Promise<boolean> {
    return (
      this.#store?.compareAndSet(key, expected, next, options) ??
      this.#ready.then((s) => s.compareAndSet(key, expected, next, options))
    )
  }

  ttl(key: string): Promise<number> {
    return this.#store?.ttl(key) ?? this.#ready.then((s) => s.ttl(key))
  }

  update<R extends ScriptReply>(
    key: string,
    script: UpdateScript<R>,
    args?: readonly (string | number)[],
  ): Promise<R> {
    return this.#store?.update(key, script, args) ?? this.#ready.then((s) => s.update(key, script, args))
  }

  publish(channel: string, message: string): Promise<void> {
    return this.#store?.publish(channel, message) ?? this.#ready.then((s) => s.publish(channel, message))
  }

  subscribe(channel: string, handler: MessageHandler): Promise<Unsubscribe> {
    return this.#store?.subscribe(channel, handler) ?? this.#ready.then((s) => s.subscribe(channel, handler))
  }

  async close(): Promise<void> {
    const store = await this.#ready.catch(() => undefined)
    await store?.close()
  }
}
