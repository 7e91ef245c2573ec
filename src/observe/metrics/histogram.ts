/**
 * A fixed-bucket histogram: `observe` is a short linear scan over the
 * bounds (most observations fall in the first few buckets of a
 * sub-millisecond proxy) and two additions, no allocation.
 */
import type { HistogramSeries } from './snapshot.ts'

/**
 * Seconds, from 100 µs: a proxied small request takes 50–500 µs here, so
 * the usual 5 ms first bucket would put nearly all of them in one bucket.
 */
export const LATENCY_BOUNDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]

export class Histogram {
  readonly bounds: readonly number[]
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor(bounds: readonly number[] = LATENCY_BOUNDS) {
    this.bounds = bounds
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe(v: number): void {
    const bounds = this.bounds
    const n = bounds.length
    let i = 0
    while (i < n && v > bounds[i]!) i++
    this.counts[i]!++
    this.sum += v
    this.count++
  }

  /** series is this histogram's snapshot with `values` as its label values. */
  series(values: string[]): HistogramSeries {
    return { values, buckets: Array.from(this.counts), sum: this.sum, count: this.count }
  }
}
