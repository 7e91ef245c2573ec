/**
 * ErrorRateBreaker with an injected clock: opens on the failure ratio once
 * the window holds minRequests tries, forgets tries older than the window,
 * admits a bounded number of half-open probes, closes when they succeed and
 * opens again when one fails. ResourceLimits' retry budget arithmetic.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { circuitBreakerSchema } from '../../config/resilience-schema.ts'
import { ErrorRateBreaker } from './breaker.ts'
import { ResourceLimits } from './limits.ts'

function breaker(over: Record<string, unknown> = {}) {
  const clock = { t: 1_000_000 }
  const changes: string[] = []
  const config = circuitBreakerSchema.parse({
    minRequests: 4,
    failureRatio: 0.5,
    window: 1000,
    openFor: 100_000, // the timer never fires in a test; toHalfOpen() is called instead
    ...over,
  })
  const b = new ErrorRateBreaker(
    config,
    (x) => changes.push(`${x.state}:${x.probes}`),
    () => clock.t,
  )
  return { b, clock, changes }
}

describe('ErrorRateBreaker', () => {
  it('stays closed below minRequests, opens at the failure ratio', () => {
    const { b, changes } = breaker()
    b.record(true)
    b.record(true)
    b.record(true)
    assert.equal(b.state, 'closed', '3 tries < minRequests 4')
    b.record(false)
    assert.equal(b.state, 'closed', 'a success does not open it')
    b.record(true)
    assert.equal(b.state, 'open')
    assert.equal(b.allow(), false)
    assert.equal(b.takesRequests(), false)
    assert.deepEqual(changes, ['open:0'])
    const plain = b.toJSON()
    assert.equal(plain.state, 'open')
    assert.deepEqual([plain.tries, plain.failures, plain.opened], [5, 4, 1])
    assert.ok(plain.openUntil > Date.now(), 'openUntil is wall-clock time')
    assert.doesNotThrow(() => JSON.stringify({ breaker: b }))
    b.stop()
  })

  it('does not open below the ratio', () => {
    const { b } = breaker()
    for (let i = 0; i < 20; i++) b.record(i % 3 === 2) // one in three fails: never 50%
    assert.equal(b.state, 'closed')
  })

  it('forgets tries older than the window', () => {
    const { b, clock } = breaker()
    b.record(true)
    b.record(true)
    b.record(true)
    clock.t += 1500 // all three aged out
    b.record(true)
    b.record(false)
    b.record(false)
    assert.equal(b.state, 'closed')
    assert.deepEqual(b.window(), { tries: 3, failures: 1 })
  })

  it('half-open admits halfOpenRequests probes, closes when they succeed', () => {
    const { b, changes } = breaker({ halfOpenRequests: 2 })
    for (let i = 0; i < 4; i++) b.record(true)
    b.toHalfOpen()
    assert.equal(b.state, 'half-open')
    assert.equal(b.allow(), true)
    assert.equal(b.allow(), true)
    assert.equal(b.allow(), false, 'both probe slots taken')
    assert.equal(b.takesRequests(), false)
    b.record(false)
    assert.equal(b.state, 'half-open')
    assert.equal(b.takesRequests(), true, 'a slot freed')
    b.record(false)
    assert.equal(b.state, 'closed')
    assert.deepEqual(b.window(), { tries: 0, failures: 0 }, 'a closed breaker starts a fresh window')
    assert.deepEqual(changes, ['open:0', 'half-open:0', 'half-open:2', 'half-open:1', 'closed:0'])
  })

  it('a failing probe opens it again; a released probe frees its slot without a verdict', () => {
    const { b } = breaker()
    for (let i = 0; i < 4; i++) b.record(true)
    b.toHalfOpen()
    assert.equal(b.allow(), true)
    b.release()
    assert.equal(b.state, 'half-open')
    assert.equal(b.allow(), true)
    b.record(true)
    assert.equal(b.state, 'open')
    assert.equal(b.opened, 2)
    b.stop()
  })
})

describe('ResourceLimits retry budget', () => {
  it('allows max(min, percent of requests in progress) retries at once, and counts refusals', () => {
    const l = new ResourceLimits(undefined)
    const budget = { percent: 20, min: 2 }
    l.requests = 50
    l.retries = 9
    assert.equal(l.mayStartRetry(budget), true, '9 < 20% of 50')
    l.retries = 10
    assert.equal(l.mayStartRetry(budget), false)
    l.requests = 3
    l.retries = 1
    assert.equal(l.mayStartRetry(budget), true, 'the minimum holds when 20% of 3 rounds to 0')
    l.retries = 2
    assert.equal(l.mayStartRetry(budget), false)
    assert.equal(l.overflow.retries, 2)
  })

  it('maxRetries caps retries with or without a budget', () => {
    const l = new ResourceLimits({ maxRetries: 1 })
    l.requests = 100
    assert.equal(l.mayStartRetry(undefined), true)
    l.retries = 1
    assert.equal(l.mayStartRetry({ percent: 50, min: 10 }), false)
  })
})
