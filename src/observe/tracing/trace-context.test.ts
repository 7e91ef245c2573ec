import assert from 'node:assert/strict'
import { test } from 'node:test'
import { newSpanId, newTraceId, parseTraceparent, ratioSampled } from './trace-context.ts'

const T = '4bf92f3577b34da6a3ce929d0e0e4736'
const S = '00f067aa0ba902b7'

test('parseTraceparent reads valid values and refuses invalid ones (Trace Context §3.2)', () => {
  assert.deepEqual(parseTraceparent(`00-${T}-${S}-01`), { traceId: T, spanId: S, sampled: true })
  assert.deepEqual(parseTraceparent(`00-${T}-${S}-00`), { traceId: T, spanId: S, sampled: false })
  assert.equal(parseTraceparent(`00-${T}-${S}-03`)?.sampled, true, 'other flag bits do not hide sampled')
  // A later version may append fields; version 00 may not.
  assert.equal(parseTraceparent(`01-${T}-${S}-01-extra`)?.traceId, T)
  assert.equal(parseTraceparent(`00-${T}-${S}-01-extra`), undefined)
  for (const bad of [
    undefined,
    '',
    `ff-${T}-${S}-01`,
    `00-${'0'.repeat(32)}-${S}-01`,
    `00-${T}-${'0'.repeat(16)}-01`,
    `00-${T.toUpperCase()}-${S}-01`,
    `00-${T}-${S}`,
    `00-${T.slice(1)}-${S}-01`,
  ])
    assert.equal(parseTraceparent(bad), undefined, String(bad))
})

test('ids are lowercase hex of the right length and not all zero', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 1000; i++) {
    const t = newTraceId()
    const s = newSpanId()
    assert.match(t, /^[0-9a-f]{32}$/)
    assert.match(s, /^[0-9a-f]{16}$/)
    seen.add(t)
  }
  assert.equal(seen.size, 1000)
})

test('ratioSampled keeps about the ratio, and the same decision for the same trace id', () => {
  assert.equal(ratioSampled(T, 1), true)
  assert.equal(ratioSampled(T, 0), false)
  let kept = 0
  for (let i = 0; i < 20_000; i++) if (ratioSampled(newTraceId(), 0.25)) kept++
  assert.ok(kept > 4500 && kept < 5500, `${kept} of 20000 at 0.25`)
  const id = newTraceId()
  assert.equal(ratioSampled(id, 0.5), ratioSampled(id, 0.5))
  // A trace kept at a ratio is kept at every higher ratio.
  for (let i = 0; i < 1000; i++) {
    const t = newTraceId()
    if (ratioSampled(t, 0.1)) assert.ok(ratioSampled(t, 0.2))
  }
})
