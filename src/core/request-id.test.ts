import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { newRequestId } from './request-id.ts'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('newRequestId', () => {
  it('makes RFC 9562 UUIDv7 strings carrying the current time', () => {
    const before = Date.now()
    const id = newRequestId(performance.now())
    const after = Date.now()
    assert.match(id, UUID_V7)
    const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
    assert.ok(ms >= before && ms <= after, `${ms} not in [${before}, ${after}]`)
  })

  it('makes unique ids that sort in creation order', () => {
    const ids = Array.from({ length: 50_000 }, () => newRequestId(performance.now()))
    assert.equal(new Set(ids).size, ids.length)
    const sorted = [...ids].sort()
    assert.deepEqual(sorted, ids)
    for (const id of ids) assert.match(id, UUID_V7)
  })
})

describe('newRequestId within one millisecond', () => {
  it('carries the increment into the high half', () => {
    const t = performance.now()
    let prev = newRequestId(t)
    for (let i = 0; i < 0x1000010; i++) {
      const id = newRequestId(t)
      if (id <= prev) assert.fail(`${id} after ${prev}`)
      prev = id
    }
  })
})

describe('wallTime', () => {
  it('is the wall clock, read again once the monotonic millisecond changes', async () => {
    const { wallTime } = await import('./clock.ts')
    const a = wallTime(performance.now())
    assert.ok(Math.abs(a - Date.now()) <= 1)
    await new Promise((r) => setTimeout(r, 20))
    const b = wallTime(performance.now())
    assert.ok(b - a >= 15, `${b - a} ms apart`)
    assert.ok(Math.abs(b - Date.now()) <= 1)
  })
})
