/**
 * Slots: a concurrency limit in one event loop (the `memory` store, or any
 * store without workers): the sessions holding a slot, and the queue of
 * those waiting, in order.
 */
import type { HookResult } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import { policyError } from '../policy-response.ts'
import type { ConcurrencyConfig } from '../../config/modules/concurrency.ts'

export interface Waiter {
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

export function refuse(session: Session, why: string): HookResult {
  return policyError(session, 'CONCURRENCY_LIMITED', ['Retry-After', '1'], `concurrency: ${why}`)
}
