import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseDuration, parseSize } from './units.ts'

describe('units', () => {
  it('parses durations to milliseconds', () => {
    assert.equal(parseDuration('250ms'), 250)
    assert.equal(parseDuration('5s'), 5000)
    assert.equal(parseDuration('1.5s'), 1500)
    assert.equal(parseDuration('2m'), 120_000)
    assert.equal(parseDuration('1h'), 3_600_000)
    assert.equal(parseDuration(42), 42)
    assert.equal(parseDuration('5'), undefined)
    assert.equal(parseDuration('5 days'), undefined)
    assert.equal(parseDuration(-1), undefined)
  })

  it('parses sizes to bytes (binary units)', () => {
    assert.equal(parseSize('64kb'), 65536)
    assert.equal(parseSize('10MB'), 10 * 1024 * 1024)
    assert.equal(parseSize('1gb'), 1024 ** 3)
    assert.equal(parseSize('512b'), 512)
    assert.equal(parseSize(100), 100)
    assert.equal(parseSize('10 parsecs'), undefined)
  })
})
