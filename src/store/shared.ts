/**
 * The `shared` store: exact state across the workers of one instance.
 *
 * ## Wiring (stable API for src/server/workers)
 *
 * The supervisor (main thread or primary process) owns the data:
 *
 * ```ts
 * import { SharedStoreHost } from '../../store/shared.ts'
 * const host = new SharedStoreHost({ sweepIntervalMs: config.stores.shared.sweepInterval })  // once per instance
 * // per worker thread:
 * const { port1, port2 } = new MessageChannel()
 * host.attach(port1)                            // detaches itself when the port closes
 * new Worker(file, { workerData: { storePort: port2 }, transferList: [port2] })
 * // on shutdown, after the workers exited:
 * host.close()
 * ```
 *
 * Each worker builds its client on the port it was given:
 *
 * ```ts
 * import { SharedStore } from '../../store/shared.ts'
 * const store = new SharedStore(workerData.storePort, { timeoutMs: config.stores.shared.timeout })  // a Store
 * // or, for every store a worker uses: new StoreRegistry(config.stores, { sharedPort: workerData.storePort })
 * …
 * await store.close()                           // closes the port; the host detaches it
 * ```
 *
 * Cluster processes work the same way over their IPC channel with
 * `ipcPort` (ipc-port.ts): `host.attach(ipcPort(clusterWorker))` in the
 * primary, `new SharedStore(ipcPort(process))` in the worker. Every message
 * is plain JSON and carries `ps: 1`, so the channel may carry other messages
 * too. The supervisor itself uses `host.store`, which sees the same data.
 *
 * ## Why one owner thread and not SharedArrayBuffer
 *
 * The host applies each request in turn on one event loop, so every
 * operation (scripts included) is atomic across workers with no locks, keys
 * and values may be any strings, expiry and pub/sub come with it, and it
 * works across cluster processes, where no SharedArrayBuffer can go. The
 * cost is a message round trip per operation; docs/architecture.md ("Shared
 * state") has the measured figures against an Atomics counter and Redis.
 */
import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { reportStoreError } from './channels.ts'
import { isStoreErrorCode, StoreError, type StoreErrorCode } from './errors.ts'
import { LocalHub } from './local-hub.ts'
import {
  isSharedMessage,
  type MessagePortLike,
  type SharedOp,
  type SharedReply,
  type SharedRequest,
} from './shared-protocol.ts'
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

export { SharedStoreHost, type SharedStoreHostOptions } from './shared-host.ts'
export type { MessagePortLike } from './shared-protocol.ts'
export { ipcPort, type IpcEndpoint } from './ipc-port.ts'

/** Options of a SharedStore client. */
export interface SharedStoreOptions {
  /** An operation without an answer after this rejects with STORE_TIMEOUT; default 1000 ms. */
  timeoutMs?: number
  /** The name diagnostics report; default `shared`. */
  name?: string
}

interface Pending {
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
  deadline: number
  op: SharedOp
}

/** SharedStore is a worker's client of a SharedStoreHost; it implements Store. */
export class SharedStore implements Store {
  readonly kind: StoreKind = 'shared'
  readonly roundTrip = true
  readonly #port: MessagePortLike
  readonly #timeoutMs: number
  readonly #name: string
  readonly #pending = new Map<number, Pending>()
  readonly #hub: LocalHub
  /** Scripts whose source the host already has, with the id it keeps them by. */
  readonly #sentScripts = new WeakMap<UpdateScript<ScriptReply>, string>()
  /** Requests made in this event-loop turn, sent together by #flush. */
  #outbox: SharedRequest[] = []
  #nextId = 1
  #timer: NodeJS.Timeout | undefined
  #failure: StoreErrorCode | undefined

  constructor(port: MessagePortLike, options: SharedStoreOptions = {}) {
    this.#port = port
    this.#timeoutMs = options.timeoutMs ?? 1000
    this.#name = options.name ?? 'shared'
    this.#hub = new LocalHub('shared', this.#name)
    port.on('message', (m: unknown) => {
      if (!isSharedMessage(m)) return
      if ('r' in m) for (const reply of m.r) this.#settle(reply)
      else if ('ch' in m) this.#hub.deliver(m.ch, m.msg)
    })
    port.on('close', () => this.#fail('STORE_UNAVAILABLE', 'the shared store host closed the port'))
  }

  get(key: string): Promise<string | undefined> {
    return this.#call('get', [key]) as Promise<string | undefined>
  }

  set(key: string, value: string, options?: SetOptions): Promise<boolean> {
    return this.#call('set', [key, value, options ?? null]) as Promise<boolean>
  }

  delete(key: string): Promise<boolean> {
    return this.#call('delete', [key]) as Promise<boolean>
  }

  incr(key: string, by = 1, options?: IncrOptions): Promise<number> {
    return this.#call('incr', [key, by, options ?? null]) as Promise<number>
  }

  compareAndSet(
    key: string,
    expected: string | undefined,
    next: string,
    options?: { ttlMs?: number },
  ): Promise<boolean> {
    return this.#call('cas', [key, expected ?? null, next, options?.ttlMs ?? null]) as Promise<boolean>
  }

  ttl(key: string): Promise<number> {
    return this.#call('ttl', [key]) as Promise<number>
  }

  update<R extends ScriptReply>(
    key: string,
    script: UpdateScript<R>,
    args: readonly (string | number)[] = [],
  ): Promise<R> {
    // The source goes once; the host compiles it and keeps it by name and
    // hash, so workers running two versions of a module (a rolling restart)
    // each get their own.
    let id = this.#sentScripts.get(script)
    let source: string | null = null
    if (id === undefined) {
      source = script.run.toString()
      id = `${script.name}#${createHash('sha1').update(source).digest('base64url')}`
      this.#sentScripts.set(script, id)
    }
    return this.#call('update', [key, id, args.map(String), source]) as Promise<R>
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#call('pub', [channel, message])
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<Unsubscribe> {
    const sub = this.#hub.add(channel, handler)
    // Asked every time (the host keeps one forward per port and channel), so a
    // second subscriber racing the first also resolves only once it is active.
    await this.#call('sub', [channel])
    const call = (op: SharedOp, a: unknown[]) => this.#call(op, a)
    return async function unsubscribe() {
      if (sub.remove()) await call('unsub', [channel])
    }
  }

  async close(): Promise<void> {
    this.#fail('STORE_CLOSED', 'store is closed')
    this.#port.close?.()
  }

  #call(op: SharedOp, a: unknown[]): Promise<unknown> {
    if (this.#failure !== undefined) {
      return Promise.reject(new StoreError(this.#failure, 'shared', `shared store: ${this.#failure}`))
    }
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, deadline: performance.now() + this.#timeoutMs, op })
      // setImmediate, not a microtask: every request read in this event-loop turn (one per
      // socket callback) joins one message; bench/policies.sh, 2 workers: +39 -> +28 us per
      // rate-limit decision, the supervisor's share 16.8 -> 8.6 us.
      if (this.#outbox.length === 0) setImmediate(this.#flush)
      this.#outbox.push({ id, op, a })
      this.#timer ??= setInterval(() => this.#expire(), Math.max(5, this.#timeoutMs / 4))
    })
  }

  /** #flush sends the requests of this tick as one message. */
  readonly #flush = (): void => {
    const q = this.#outbox
    this.#outbox = []
    if (this.#failure === undefined) this.#port.postMessage({ ps: 1, q })
  }

  #settle(m: SharedReply): void {
    const p = this.#pending.get(m.id)
    if (p === undefined) return // answered after its timeout
    this.#pending.delete(m.id)
    if (m.e === undefined) return p.resolve(m.v)
    const code = isStoreErrorCode(m.e) ? m.e : 'STORE_SCRIPT_FAILED'
    const error = new StoreError(code, 'shared', m.m ?? code)
    if (code === 'STORE_SCRIPT_FAILED') {
      reportStoreError({ store: 'shared', name: this.#name, operation: p.op, code, error })
    }
    p.reject(error)
  }

  /**
   * #expire rejects the requests past their deadline. They were sent in
   * deadline order (one timeout for all), so it stops at the first live one.
   */
  #expire(): void {
    const now = performance.now()
    for (const [id, p] of this.#pending) {
      if (p.deadline > now) break
      this.#pending.delete(id)
      const error = new StoreError(
        'STORE_TIMEOUT',
        'shared',
        `shared store ${p.op}: no answer in ${this.#timeoutMs} ms`,
      )
      reportStoreError({ store: 'shared', name: this.#name, operation: p.op, code: 'STORE_TIMEOUT', error })
      p.reject(error)
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }

  /** #fail rejects everything pending and every later call with `code`. */
  #fail(code: StoreErrorCode, message: string): void {
    if (this.#failure !== undefined) return
    this.#failure = code
    clearInterval(this.#timer)
    this.#timer = undefined
    for (const p of this.#pending.values()) p.reject(new StoreError(code, 'shared', message))
    this.#pending.clear()
    this.#hub.clear()
  }
}
