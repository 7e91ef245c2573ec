import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BUCKETS, bucketOf, percentile, upperBound } from './latency-buckets.ts'

test('a latency falls in the bucket whose bound is the first at or above it, within 19 %', () => {
  for (const ms of [0.03, 0.1, 0.42, 1, 3.3, 17, 250, 4000, 60_000]) {
    const i = bucketOf(ms)
    assert.ok(upperBound(i) >= ms - 1e-9, `${ms} <= bound of ${i}`)
    assert.ok(i === 0 || upperBound(i - 1) < ms, `${ms} > bound of ${i - 1}`)
    assert.ok(upperBound(i) <= ms * 1.19 + 0.025)
  }
  assert.equal(bucketOf(0), 0)
  assert.equal(bucketOf(1e9), BUCKETS - 1)
})

test('percentile reads the bucket holding the rank, never under the truth', () => {
  const counts = new Array<number>(BUCKETS).fill(0)
  assert.ok(Number.isNaN(percentile(counts, 0.5)))
  for (let i = 1; i <= 100; i++) counts[bucketOf(i)]!++ // 1..100 ms
  const p50 = percentile(counts, 0.5)
  const p99 = percentile(counts, 0.99)
  assert.ok(p50 >= 50 && p50 <= 50 * 1.19, String(p50))
  assert.ok(p99 >= 99 && p99 <= 99 * 1.19, String(p99))
})
