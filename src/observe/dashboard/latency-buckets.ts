/**
 * The dashboard's latency histogram: fixed logarithmic buckets, four per
 * doubling (each about 19 % wide) from 25 µs to about 2 minutes, so any
 * percentile read from it is within one bucket's width of the truth, at
 * sub-millisecond proxy latencies and slow upstreams alike. Counts are
 * cumulative in each serving process; the admin side subtracts two reads to
 * get a window.
 */

const FIRST_MS = 0.025
const PER_DOUBLING = 4
/** Bucket i holds latencies up to FIRST_MS * 2^(i / PER_DOUBLING); the last takes everything above. */
export const BUCKETS = 90

/** bucketOf returns the index of the bucket a latency in milliseconds falls in. */
export function bucketOf(ms: number): number {
  if (!(ms > FIRST_MS)) return 0
  const i = Math.ceil(Math.log2(ms / FIRST_MS) * PER_DOUBLING)
  return i < BUCKETS ? i : BUCKETS - 1
}

/** upperBound returns the upper bound of bucket `i`, in milliseconds. */
export function upperBound(i: number): number {
  return FIRST_MS * 2 ** (i / PER_DOUBLING)
}

/**
 * percentile reads the `q` quantile (0..1) from per-bucket counts: the upper
 * bound of the bucket holding it (so never under-reported); NaN when empty.
 */
export function percentile(counts: readonly number[], q: number): number {
  let total = 0
  for (const c of counts) total += c
  if (total === 0) return NaN
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!
    if (seen >= rank) return upperBound(i)
  }
  return upperBound(counts.length - 1)
}
