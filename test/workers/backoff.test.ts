/** The supervisor's restart backoff: doubling per crash in a row, capped, reset by a stable run. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Backoff } from '../../src/server/workers/backoff.ts'

describe('Backoff', () => {
  it('doubles per quick crash up to max, and a worker that stayed up resets it', () => {
    const b = new Backoff(100, 1000, 10_000)
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => b.next(50)),
      [100, 200, 400, 800, 1000, 1000],
    )
    assert.equal(b.next(10_000), 100, 'up 10 s: back to initial')
    assert.equal(b.next(10), 200)
  })
})
