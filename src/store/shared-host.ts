/**
 * SharedStoreHost is the owner side of the `shared` store: it lives in the
 * supervisor (the main thread or primary process), holds the one KeyTable
 * every worker's SharedStore reads and writes, and answers each request as
 * it arrives. One thread applies every operation in turn, so counters are
 * exact across workers without locks. See shared.ts for the wiring.
 */
import { isStoreErrorCode, StoreError } from './errors.ts'
import { MemoryStore, type MemoryStoreOptions } from './memory.ts'
import {
  compileRun,
  isSharedMessage,
  type MessagePortLike,
  type SharedReply,
  type SharedRequest,
} from './shared-protocol.ts'
import type { IncrOptions, SetOptions, Store, UpdateScript } from './store.ts'

interface Attached {
  /** Per channel, the hub subscription that forwards to this port. */
  subscriptions: Map<string, () => boolean>
}

/** Options of a SharedStoreHost: the KeyTable's (clock, sweep) and a name for diagnostics. */
export type SharedStoreHostOptions = Omit<MemoryStoreOptions, 'kind'>

export class SharedStoreHost {
  /**
   * The supervisor's own view of the shared data: its writes are seen by
   * workers and its publishes reach their subscribers, and theirs reach it.
   */
  readonly store: Store
  readonly #memory: MemoryStore
  readonly #ports = new Map<MessagePortLike, Attached>()
  readonly #scripts = new Map<string, { source: string; run: UpdateScript['run'] }>()

  constructor(options: SharedStoreHostOptions = {}) {
    this.#memory = new MemoryStore({ ...options, name: options.name ?? 'shared', kind: 'shared' })
    this.store = this.#memory
  }

  /** ports counts the attached clients (for diagnostics and tests). */
  get ports(): number {
    return this.#ports.size
  }

  /**
   * attach serves one worker's SharedStore on `port`, once per worker. When
   * the port closes (the worker exited), its subscriptions are dropped.
   */
  attach(port: MessagePortLike): void {
    if (this.#ports.has(port)) return
    const attached: Attached = { subscriptions: new Map() }
    this.#ports.set(port, attached)
    port.on('message', (m: unknown) => {
      if (isSharedMessage(m) && 'q' in m) this.#answer(port, attached, m.q)
    })
    port.on('close', () => this.detach(port))
  }

  /** detach stops serving `port` (attach's 'close' listener calls it too). */
  detach(port: MessagePortLike): void {
    const attached = this.#ports.get(port)
    if (attached === undefined) return
    for (const remove of attached.subscriptions.values()) remove()
    this.#ports.delete(port)
  }

  /** close detaches every port and drops the data. */
  close(): void {
    for (const port of [...this.#ports.keys()]) this.detach(port)
    void this.#memory.close()
  }

  /** #answer applies a batch of requests in order and sends their replies as one message. */
  #answer(port: MessagePortLike, attached: Attached, batch: SharedRequest[]): void {
    const replies: SharedReply[] = []
    for (const req of batch) {
      try {
        const v = this.#apply(port, attached, req)
        replies.push(v === undefined ? { id: req.id } : { id: req.id, v })
      } catch (err) {
        const code =
          err instanceof StoreError && isStoreErrorCode(err.code) ? err.code : 'STORE_SCRIPT_FAILED'
        replies.push({ id: req.id, e: code, m: err instanceof Error ? err.message : String(err) })
      }
    }
    port.postMessage({ ps: 1, r: replies })
  }

  /** #apply runs one request on the table; every case is synchronous, so atomic. */
  #apply(port: MessagePortLike, attached: Attached, req: SharedRequest): unknown {
    const t = this.#memory.table
    const a = req.a
    switch (req.op) {
      case 'get':
        return t.get(a[0] as string)
      case 'set':
        return t.set(a[0] as string, a[1] as string, (a[2] ?? undefined) as SetOptions | undefined)
      case 'delete':
        return t.delete(a[0] as string)
      case 'incr':
        return t.incr(a[0] as string, a[1] as number, (a[2] ?? undefined) as IncrOptions | undefined)
      case 'cas':
        return t.compareAndSet(
          a[0] as string,
          (a[1] ?? undefined) as string | undefined,
          a[2] as string,
          (a[3] ?? undefined) as number | undefined,
        )
      case 'ttl':
        return t.ttl(a[0] as string)
      case 'update':
        return t.update(a[0] as string, this.#script(a[1] as string, a[3] as string | null), a[2] as string[])
      case 'pub':
        this.#memory.hub.deliver(a[0] as string, a[1] as string)
        return undefined
      case 'sub':
        this.#subscribe(port, attached, a[0] as string)
        return undefined
      case 'unsub':
        attached.subscriptions.get(a[0] as string)?.()
        attached.subscriptions.delete(a[0] as string)
        return undefined
    }
  }

  /** #subscribe forwards `channel`'s messages to `port`, once per port and channel. */
  #subscribe(port: MessagePortLike, attached: Attached, channel: string): void {
    if (attached.subscriptions.has(channel)) return
    const sub = this.#memory.hub.add(channel, function forward(msg) {
      port.postMessage({ ps: 1, ch: channel, msg })
    })
    attached.subscriptions.set(channel, sub.remove)
  }

  /** #script returns the compiled `run` of script `name`, compiling `source` when it is new. */
  #script(name: string, source: string | null): UpdateScript['run'] {
    const known = this.#scripts.get(name)
    if (source === null || source === known?.source) {
      if (known === undefined) throw new StoreError('STORE_SCRIPT_FAILED', 'shared', `unknown script ${name}`)
      return known.run
    }
    const run = compileRun(source)
    this.#scripts.set(name, { source, run })
    return run
  }
}
