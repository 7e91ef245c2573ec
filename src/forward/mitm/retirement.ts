/**
 * What becomes of a leaf's TLS context once it leaves the leaf cache
 * (evicted, or replaced before it expires).
 *
 * It is retired once no connection can still be handed it: a connection
 * awaits its leaf within the handshake limit and its handshake ends within
 * another, so twice that limit after it left (or after it was made, if it
 * left while being made). A retired context is then either kept for a new
 * host's leaf (`recycle`: the leaves share one key, so only the certificate
 * and the ticket keys change) or closed, a slice at a time.
 *
 * Why not leave it to the garbage collector: the contexts a stream of new
 * hosts evicts were freed all at once in one major GC's weak callbacks,
 * 52 ms of a 62 ms pause for ~5,000 contexts (bench/forward/new-hosts.ts
 * with `--trace-gc-nvp`: heap.external.weak_global_handles; perf:
 * SecureContext's destructor). And why recycle: a new `SSL_CTX` with the
 * key loaded costs ~0.4 ms, the dearest part of a new host (a CPU profile
 * of the same bench); recycled, the gateway's CPU per new host went from
 * 0.69-0.71 ms to 0.54 ms.
 */
import type tls from 'node:tls'

/** How long a context is held before it is retired, until `holdFor` sets it. */
const DEFAULT_HOLD_MS = 60_000
/** Retired contexts kept for new leaves, at most; the rest are closed. */
const MAX_RECYCLED = 256
/** Event-loop time one turn may spend retiring (closing one is tens of µs). */
const SLICE_MS = 0.25

/** The native context behind a SecureContext: `close` frees OpenSSL's now (connections made from it keep their own reference). */
interface NativeContext {
  close?: () => void
}

/** A context out of the cache, retired once `due`. */
interface Held {
  context: tls.SecureContext
  due: number
}

export class Retirement {
  private readonly recycle: boolean
  /** Contexts out of the cache, oldest first, waiting to be retired. */
  private readonly held: Held[] = []
  /** The host each context presents now; none once retired. */
  private readonly owner = new WeakMap<tls.SecureContext, string>()
  /** Retired contexts a new leaf's certificate goes into, newest last. */
  private readonly recycled: tls.SecureContext[] = []
  private timer: NodeJS.Timeout | undefined
  private holdMs: number | undefined
  private closed = false

  /** `recycle`: retired contexts are kept for new leaves (all leaves share one key), else closed. */
  constructor(recycle: boolean) {
    this.recycle = recycle
  }

  /**
   * holdFor: the handshake limit connections are accepted under. Only ever
   * raised: connections accepted under an older, longer limit may still be
   * waiting.
   */
  holdFor(handshakeLimitMs: number): void {
    this.holdMs = Math.max(this.holdMs ?? 0, 2 * handshakeLimitMs + 1000)
  }

  /** own: `context` now presents `host`'s leaf. */
  own(context: tls.SecureContext, host: string): void {
    this.owner.set(context, host)
  }

  /** usable: `context` still presents `host`'s leaf (lower-case), i.e. was not retired since. */
  usable(context: tls.SecureContext, host: string): boolean {
    return this.owner.get(context) === host
  }

  /** take: a retired context for a new leaf, if one is kept. */
  take(): tls.SecureContext | undefined {
    return this.recycled.pop()
  }

  /** retire: `context` (once made) left the cache; it is retired once held long enough. */
  retire(context: Promise<tls.SecureContext>): void {
    context.then(
      (c) => {
        if (this.closed) return
        const hold = this.holdMs ?? DEFAULT_HOLD_MS
        this.held.push({ context: c, due: performance.now() + hold })
        this.timer ??= setTimeout(this.due, hold).unref()
      },
      () => {},
    )
  }

  /** close stops retiring (what is held is left to the garbage collector). */
  close(): void {
    this.closed = true
    clearTimeout(this.timer)
    this.held.length = 0
    this.recycled.length = 0
  }

  private readonly due = (): void => {
    this.timer = undefined
    const end = performance.now() + SLICE_MS
    while (this.held.length > 0) {
      const head = this.held[0]!
      const now = performance.now()
      if (head.due > now) {
        this.timer = setTimeout(this.due, head.due - now).unref()
        return
      }
      if (now >= end) {
        this.timer = setTimeout(this.due, 0).unref()
        return
      }
      this.held.shift()
      this.owner.delete(head.context)
      if (this.recycle && this.recycled.length < MAX_RECYCLED) this.recycled.push(head.context)
      else (head.context as { context?: NativeContext }).context?.close?.()
    }
  }
}
