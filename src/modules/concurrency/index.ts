/**
 * The `concurrency` route policy: at most `max` requests of the route in
 * progress at once (from onRequest to the end of the response), up to
 * `queue` more waiting in order for a slot for at most `queueTimeout`;
 * beyond that, or after waiting that long, 503 CONCURRENCY_LIMITED with
 * Retry-After. A slot is released when the request ends (onLog), however it
 * ends, and handed straight to the oldest waiter.
 *
 * This protects a backend from this event loop's load, so the count is per
 * worker by design (as Envoy's per-worker resource limits), and documented
 * so; a reload starts a new count while old requests finish on the old.
 */
import type { GatewayHooks, HookResult } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import { policyError } from '../policy-response.ts'
import { policyOf } from '../policy-sets.ts'
import type { RouteModule } from '../registry.ts'
import type { ConcurrencyConfig } from '../../config/modules/concurrency.ts'

interface Waiter {
  session: Session
  resolve(result: HookResult | undefined): void
  timer: NodeJS.Timeout
}

/** Slots: the sessions holding one, and the queue of those waiting. */
export class Slots {
  readonly #cfg: ConcurrencyConfig
  readonly #holders = new Set<Session>()
  readonly #queue: Waiter[] = []

  constructor(cfg: ConcurrencyConfig) {
    this.#cfg = cfg
  }

  get active(): number {
    return this.#holders.size
  }

  get waiting(): number {
    return this.#queue.length
  }

  /** acquire takes a slot for `session`, or queues it; resolves to undefined (go on) or a 503. */
  acquire(session: Session): HookResult | undefined | Promise<HookResult | undefined> {
    if (this.#holders.size < this.#cfg.max) {
      this.#holders.add(session)
      return undefined
    }
    if (this.#queue.length >= this.#cfg.queue) return refuse(session, 'queue full')
    return new Promise((resolve) => {
      const waiter: Waiter = { session, resolve, timer: undefined as never }
      waiter.timer = setTimeout(() => {
        this.#drop(waiter)
        resolve(refuse(session, 'queue timeout'))
      }, this.#cfg.queueTimeout)
      this.#queue.push(waiter)
    })
  }

  /** release ends `session`'s hold (or its wait) and hands the slot to the oldest waiter. */
  release(session: Session): void {
    if (!this.#holders.delete(session)) {
      const waiter = this.#queue.find((w) => w.session === session)
      if (waiter !== undefined) {
        this.#drop(waiter) // it left while waiting
        waiter.resolve(undefined)
      }
      return
    }
    const next = this.#queue.shift()
    if (next === undefined) return
    clearTimeout(next.timer)
    this.#holders.add(next.session)
    next.resolve(undefined)
  }

  #drop(waiter: Waiter): void {
    clearTimeout(waiter.timer)
    const i = this.#queue.indexOf(waiter)
    if (i !== -1) this.#queue.splice(i, 1)
  }
}

function refuse(session: Session, why: string): HookResult {
  return policyError(session, 'CONCURRENCY_LIMITED', ['Retry-After', '1'], `concurrency: ${why}`)
}

/** concurrencyModule gives a route with `concurrency` its slot hooks. */
export const concurrencyModule: RouteModule = function concurrency(route, config) {
  const cfg = policyOf(route, config, 'concurrency')
  if (cfg === undefined) return undefined
  const slots = new Slots(cfg)
  const hooks: GatewayHooks = {
    onRequest: function concurrencyAcquire(session: Session) {
      return slots.acquire(session)
    },
    onLog: function concurrencyRelease(session: Session): void {
      slots.release(session)
    },
  }
  return hooks
}
