/**
 * Restart backoff for a crashing worker, as pm2's exp_backoff_restart_delay:
 * the first restart waits `initial`, each crash in a row doubles the wait up
 * to `max`, and a worker that stayed up `stableAfter` resets it.
 */
export class Backoff {
  private readonly initial: number
  private readonly max: number
  private readonly stableAfter: number
  private crashes = 0

  /** `stableAfter` defaults to 10 s or `max`, whichever is longer. */
  constructor(initial: number, max: number, stableAfter = Math.max(10_000, max)) {
    this.initial = initial
    this.max = Math.max(initial, max)
    this.stableAfter = stableAfter
  }

  /**
   * next returns how long to wait before restarting a worker that ran for
   * `uptime` ms and then died, and counts the crash.
   */
  next(uptime: number): number {
    if (uptime >= this.stableAfter) this.crashes = 0
    const delay = Math.min(this.max, this.initial * 2 ** this.crashes)
    this.crashes++
    return delay
  }
}
