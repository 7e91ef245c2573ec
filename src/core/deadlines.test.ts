import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Clock, Deadlines, type Expirable } from './deadlines.ts'

class FakeClock implements Clock {
  t = 1000
  now(): number {
    return this.t
  }
}

function member(): Expirable & { expired: number[] } {
  return {
    deadline: 0,
    expired: [] as number[],
    expire(now: number) {
      this.expired.push(now)
    },
  }
}

describe('Deadlines', () => {
  it('expires a member once its deadline passes, and only once', () => {
    const clock = new FakeClock()
    const d = new Deadlines(10, clock)
    const m = member()
    d.add(m)
    m.deadline = d.at(100)
    clock.t += 50
    d.tick()
    assert.deepEqual(m.expired, [])
    clock.t += 60
    d.tick()
    assert.deepEqual(m.expired, [1110])
    clock.t += 500
    d.tick()
    assert.equal(m.expired.length, 1, 'deadline is cleared after expiring')
    d.stop()
  })

  it('ignores members without a deadline and forgets deleted ones', () => {
    const clock = new FakeClock()
    const d = new Deadlines(10, clock)
    const idle = member()
    const gone = member()
    d.add(idle)
    d.add(gone)
    gone.deadline = d.at(1)
    d.delete(gone)
    clock.t += 10_000
    d.tick()
    assert.deepEqual(idle.expired, [])
    assert.deepEqual(gone.expired, [])
    assert.equal(d.size, 1)
    d.stop()
  })

  it('at(0) means no deadline', () => {
    const d = new Deadlines(10, new FakeClock())
    assert.equal(d.at(0), 0)
  })

  it('derives a tick of a tenth of the shortest timeout, bounded', () => {
    assert.equal(Deadlines.tickFor(50), 10)
    assert.equal(Deadlines.tickFor(1000), 100)
    assert.equal(Deadlines.tickFor(60_000), 250)
  })
})
