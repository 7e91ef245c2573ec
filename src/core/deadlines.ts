/**
 * Deadlines: one interval per gateway checks every timeout of every
 * connection, instead of a timer per request. Setting a deadline on the hot
 * path is a number assignment; the price is precision, one tick, which is
 * what nginx and HAProxy accept too. The clock is injectable for tests.
 */
import { performance } from 'node:perf_hooks'

/** Something with at most one deadline at a time. */
export interface Expirable {
  /** Absolute time (Clock.now) at which `expire` runs; 0 for none. */
  deadline: number
  expire(now: number): void
}

export interface Clock {
  now(): number
}

export const systemClock: Clock = { now: () => performance.now() }

export class Deadlines {
  /** The time of the last tick; what deadlines are set against. */
  now: number
  private readonly members = new Set<Expirable>()
  private timer: NodeJS.Timeout | undefined
  private readonly clock: Clock
  private readonly tickMs: number

  constructor(tickMs: number, clock: Clock = systemClock) {
    this.clock = clock
    this.tickMs = tickMs
    this.now = clock.now()
  }

  /** tickFor picks a tick of a tenth of the shortest timeout, within [10 ms, 250 ms]. */
  static tickFor(shortestTimeoutMs: number): number {
    return Math.min(250, Math.max(10, Math.floor(shortestTimeoutMs / 10)))
  }

  /** How many members are registered. */
  get size(): number {
    return this.members.size
  }

  add(member: Expirable): void {
    this.members.add(member)
    if (this.timer === undefined) this.start()
  }

  delete(member: Expirable): void {
    this.members.delete(member)
  }

  /** at returns the absolute deadline `ms` from now (0 = none). */
  at(ms: number): number {
    // Until the interval runs, `now` is the construction time: a gateway idle
    // longer than a timeout would give its first connection a deadline already past.
    if (this.timer === undefined) this.now = this.clock.now()
    return ms > 0 ? this.now + ms : 0
  }

  /** tick runs expired members; called by the interval, or by tests with a fake clock. */
  tick(): void {
    const now = (this.now = this.clock.now())
    for (const m of this.members) {
      if (m.deadline !== 0 && m.deadline <= now) {
        m.deadline = 0
        m.expire(now)
      }
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  private start(): void {
    this.now = this.clock.now()
    this.timer = setInterval(() => this.tick(), this.tickMs)
    this.timer.unref()
  }
}
