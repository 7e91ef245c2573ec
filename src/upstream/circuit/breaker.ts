/**
 * An error-rate circuit breaker for one target. Closed, it counts tries and
 * failures in a rolling window (ten buckets); when the window holds at least
 * `minRequests` tries and failures reach `failureRatio` of them, it opens:
 * the target takes no requests for `openFor`. Then it is half-open: up to
 * `halfOpenRequests` probe tries go through at once; one failing opens it
 * again, that many succeeding closes it with an empty window.
 */
import type { CircuitBreakerConfig } from '../../config/resilience-schema.ts'

export type CircuitState = 'closed' | 'open' | 'half-open'

/** The breaker interface of ARCHITECTURE.md: a gate and a recorder. */
export interface CircuitBreaker {
  /** allow tells whether a new try may go to the target now; while half-open it takes a probe slot. */
  allow(): boolean
  /** record reports the end of a try: `failed` when it counts as a failure. */
  record(failed: boolean): void
}

const BUCKETS = 10

export class ErrorRateBreaker implements CircuitBreaker {
  state: CircuitState = 'closed'
  /** While open: when it turns half-open (clock ms). */
  openUntil = 0
  /** Times it opened (monotonic). */
  opened = 0
  /** Probe tries in progress while half-open. */
  probes = 0
  private probeSuccesses = 0
  private readonly tries = new Int32Array(BUCKETS)
  private readonly failures = new Int32Array(BUCKETS)
  /** The bucket number (time / bucket length) of the newest bucket. */
  private epoch = 0
  private readonly bucketMs: number
  private readonly config: CircuitBreakerConfig
  private readonly now: () => number
  private readonly onChange: (breaker: ErrorRateBreaker) => void
  private timer: NodeJS.Timeout | undefined = undefined

  /** `onChange` runs after every state change and when half-open probe slots fill or free. */
  constructor(config: CircuitBreakerConfig, onChange: (b: ErrorRateBreaker) => void, now: () => number) {
    this.config = config
    this.onChange = onChange
    this.now = now
    this.bucketMs = Math.max(1, config.window / BUCKETS)
    this.epoch = Math.floor(now() / this.bucketMs)
  }

  /** takesRequests: closed, or half-open with a probe slot free (what Upstream.available filters on). */
  takesRequests(): boolean {
    if (this.state === 'closed') return true
    return this.state === 'half-open' && this.probes < this.config.halfOpenRequests
  }

  allow(): boolean {
    if (this.state === 'closed') return true
    if (!this.takesRequests()) return false
    if (++this.probes === this.config.halfOpenRequests) this.onChange(this)
    return true
  }

  record(failed: boolean): void {
    if (this.state === 'closed') this.recordClosed(failed)
    else if (this.state === 'half-open') this.recordProbe(failed)
    // Open: a try that started before it opened ends now; it says nothing new.
  }

  /** release frees a probe slot without a verdict (the try ended for a reason not the target's). */
  release(): void {
    if (this.state !== 'half-open' || this.probes === 0) return
    const wasFull = this.probes >= this.config.halfOpenRequests
    this.probes--
    if (wasFull) this.onChange(this)
  }

  /** Tries and failures in the current window (for the admin API). */
  window(): { tries: number; failures: number } {
    this.advance()
    let tries = 0
    let failures = 0
    for (let i = 0; i < BUCKETS; i++) {
      tries += this.tries[i]!
      failures += this.failures[i]!
    }
    return { tries, failures }
  }

  /**
   * toJSON is the breaker's state as plain data (the admin API, metrics):
   * `openUntil` as wall-clock epoch ms, 0 when not open.
   */
  toJSON(): {
    state: CircuitState
    openUntil: number
    opened: number
    probes: number
    tries: number
    failures: number
  } {
    const openUntil = this.state === 'open' ? Math.round(Date.now() + this.openUntil - this.now()) : 0
    return { state: this.state, openUntil, opened: this.opened, probes: this.probes, ...this.window() }
  }

  /** stop cancels the open → half-open timer (the upstream was replaced). */
  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private recordClosed(failed: boolean): void {
    const i = this.advance()
    this.tries[i]!++
    if (!failed) return
    this.failures[i]!++
    const w = this.window()
    if (w.tries >= this.config.minRequests && w.failures >= this.config.failureRatio * w.tries) this.open()
  }

  private recordProbe(failed: boolean): void {
    const wasFull = this.probes >= this.config.halfOpenRequests
    if (this.probes > 0) this.probes--
    if (failed) return this.open()
    if (++this.probeSuccesses >= this.config.halfOpenRequests) return this.close()
    if (wasFull) this.onChange(this)
  }

  /** advance moves the window to now, emptying buckets that aged out; returns the current bucket. */
  private advance(): number {
    const epoch = Math.floor(this.now() / this.bucketMs)
    const gap = epoch - this.epoch
    if (gap > 0) {
      for (let k = 1; k <= Math.min(gap, BUCKETS); k++) {
        const i = (this.epoch + k) % BUCKETS
        this.tries[i] = 0
        this.failures[i] = 0
      }
      this.epoch = epoch
    }
    return epoch % BUCKETS
  }

  private open(): void {
    this.state = 'open'
    this.opened++
    this.probes = 0
    this.probeSuccesses = 0
    this.openUntil = this.now() + this.config.openFor
    clearTimeout(this.timer)
    this.timer = setTimeout(halfOpen, this.config.openFor, this)
    this.timer.unref()
    this.onChange(this)
  }

  /** toHalfOpen: the open period ended; probes may go through. */
  toHalfOpen(): void {
    if (this.state !== 'open') return
    this.timer = undefined
    this.state = 'half-open'
    this.onChange(this)
  }

  private close(): void {
    this.state = 'closed'
    this.probes = 0
    this.probeSuccesses = 0
    this.tries.fill(0)
    this.failures.fill(0)
    this.onChange(this)
  }
}

function halfOpen(b: ErrorRateBreaker): void {
  b.toHalfOpen()
}
