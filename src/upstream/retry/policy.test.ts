/**
 * The retry policy's pure parts: merging a route's overrides, full-jitter
 * backoff bounds, Retry-After in both forms (RFC 9110 §10.2.3).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { retriesSchema } from '../../config/resilience-schema.ts'
import { backoffDelay, compileRetryPolicy, retryAfterMs } from './policy.ts'

describe('compileRetryPolicy', () => {
  it('is null without retries, or with retries: false on the route', () => {
    assert.equal(compileRetryPolicy(undefined, undefined), null)
    assert.equal(compileRetryPolicy(retriesSchema.parse({}), false), null)
  })

  it('takes the route overrides over the upstream, and defaults when only the route has retries', () => {
    const up = retriesSchema.parse({ attempts: 3, on: ['reset', 503], budget: { percent: 10 } })
    const p = compileRetryPolicy(up, { attempts: 5, unsafeMethods: true })!
    assert.equal(p.attempts, 5)
    assert.equal(p.unsafeMethods, true)
    assert.equal(p.onReset, true)
    assert.deepEqual([...p.statuses], [503])
    assert.deepEqual(p.budget, { percent: 10, min: 3 })
    const only = compileRetryPolicy(undefined, { on: ['timeout'] })!
    assert.equal(only.attempts, 2)
    assert.equal(only.onTimeout, true)
    assert.equal(only.onReset, false)
  })
})

describe('backoffDelay', () => {
  it('is within [0, min(max, base * 2^(n-1))) and reaches its ceiling', () => {
    const p = compileRetryPolicy(retriesSchema.parse({ backoff: { base: '10ms', max: '50ms' } }), undefined)!
    assert.equal(
      backoffDelay(p, 1, () => 0),
      0,
    )
    assert.equal(
      backoffDelay(p, 1, () => 0.999),
      9,
    )
    assert.equal(
      backoffDelay(p, 3, () => 0.999),
      39,
    )
    assert.equal(
      backoffDelay(p, 10, () => 0.999),
      49,
      'capped by max',
    )
  })
})

describe('retryAfterMs', () => {
  it('reads delay-seconds and HTTP-dates; refuses garbage', () => {
    const now = Date.parse('Sun, 06 Nov 1994 08:49:37 GMT')
    assert.equal(retryAfterMs('120', now), 120_000)
    assert.equal(retryAfterMs(' 0 ', now), 0)
    assert.equal(retryAfterMs('Sun, 06 Nov 1994 08:49:40 GMT', now), 3000)
    assert.equal(retryAfterMs('Sun, 06 Nov 1994 08:49:00 GMT', now), 0, 'a past date: at once')
    assert.equal(retryAfterMs('soon', now), undefined)
    assert.equal(retryAfterMs(undefined, now), undefined)
    assert.equal(retryAfterMs('-5', now), undefined)
  })
})
