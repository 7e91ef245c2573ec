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

/**
 * SlotQueue: the sessions holding a slot and the queue of those waiting for
 * one, in order, with its timeout; where slots come from is the subclass's.
 */
export abstract class SlotQueue {
  protected readonly cfg: ConcurrencyConfig
  protected readonly holders = new Set<Session>()
  protected readonly queue: Waiter[] = []

  constructor(cfg: ConcurrencyConfig) {
    this.cfg = cfg
  }

  get active(): number {
    return this.holders.size
  }

  get waiting(): number {
    return this.queue.length
  }

  /** wait queues `session`; it resolves when `serve` gives it a slot, or with a 503 after queueTimeout. */
  protected wait(session: Session): Promise<HookResult | undefined> {
    return new Promise((resolve) => {
      const waiter: Waiter = { session, resolve, timer: undefined as never }
      waiter.timer = setTimeout(() => {
        this.drop(waiter)
        resolve(refuse(session, 'queue timeout'))
      }, this.cfg.queueTimeout)
      this.queue.push(waiter)
    })
  }

  /** leave ends `session`'s hold (true: a slot is free now) or its wait (it left while waiting). */
  protected leave(session: Session): boolean {
    if (this.holders.delete(session)) return true
    const waiter = this.queue.find((w) => w.session === session)
    if (waiter !== undefined) {
      this.drop(waiter)
      waiter.resolve(undefined)
    }
    return false
  }

  /** serve hands slots to the oldest waiters while fewer than `limit` are held. */
  protected serve(limit: number): void {
    while (this.queue.length > 0 && this.holders.size < limit) {
      const next = this.queue.shift()!
      clearTimeout(next.timer)
      this.holders.add(next.session)
      next.resolve(undefined)
    }
  }

  protected drop(waiter: Waiter): void {
    clearTimeout(waiter.timer)
    const i = this.queue.indexOf(waiter)
    if (i !== -1) this.queue.splice(i, 1)
  }
}

/** Slots: `max` slots of this event loop. */
export class Slots extends SlotQueue {
  /** acquire takes a slot for `session`, or queues it; resolves to undefined (go on) or a 503. */
  acquire(session: Session): HookResult | undefined | Promise<HookResult | undefined> {
    if (this.holders.size < this.cfg.max) {
      this.holders.add(session)
      return undefined
    }
    if (this.queue.length >= this.cfg.queue) return refuse(session, 'queue full')
    return this.wait(session)
  }

  /** release ends `session`'s hold (or its wait) and hands the slot to the oldest waiter. */
  release(session: Session): void {
    if (this.leave(session)) this.serve(this.cfg.max)
  }
}

export function refuse(session: Session, why: string): HookResult {
  return policyError(session, 'CONCURRENCY_LIMITED', ['Retry-After', '1'], `concurrency: ${why}`)
}
