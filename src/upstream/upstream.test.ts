/**
 * Upstream's balancing duties: the configured balancer, slow start stamped
 * by refresh(), a ring rebuilt when a weight changes, and host names
 * re-resolved through an injected resolver (no real DNS).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { performance } from 'node:perf_hooks'
import { configSchema, type UpstreamConfig } from '../config/schema.ts'
import { RequestHead } from '../core/request-head.ts'
import { Session } from '../core/session.ts'
import { Deadlines } from '../core/deadlines.ts'
import type { ResolvedAddress } from './resolve.ts'
import { Upstream } from './upstream.ts'

function upstreamConfig(u: Record<string, unknown>): UpstreamConfig {
  return configSchema.parse({ listen: [{ address: 8080 }], upstreams: { u }, routes: [] }).upstreams.u!
}

function session(user: string): Session {
  const head = new RequestHead()
  head.target = '/'
  head.rawHeaders = ['X-User', user]
  return new Session(head, '192.0.2.1', 1, false, 0)
}

const deadlines = new Deadlines(100)

/** A resolver whose answers the test changes. */
function fakeResolver(answers: Map<string, string[]>, asked: string[] = []) {
  return async (host: string): Promise<ResolvedAddress[]> => {
    asked.push(host)
    const a = answers.get(host)
    if (a === undefined) throw Object.assign(new Error(`queryA ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
    return a.map((address) => ({ address, ttl: 60 }))
  }
}

/** Three targets balanced by consistent hashing on the x-user header. */
function hashedUpstream(): Upstream {
  const targets = [1, 2, 3].map((p) => ({ url: `http://127.0.0.1:${p}` }))
  return new Upstream(
    'u',
    upstreamConfig({ targets, balance: 'consistent-hash', hash: { key: 'header:x-user' } }),
    deadlines,
  )
}

describe('Upstream balancing', () => {
  it('builds the configured balancer', () => {
    const u = hashedUpstream()
    const first = ['ann', 'bob', 'cy', 'di'].map((n) => u.pick(session(n))!)
    for (let i = 0; i < 5; i++)
      assert.deepEqual(
        ['ann', 'bob', 'cy', 'di'].map((n) => u.pick(session(n))!),
        first,
      )
    u.close()
  })

  it('ramps the weight of a target that became available again (slow start)', () => {
    const u = new Upstream(
      'u',
      upstreamConfig({
        targets: [{ url: 'http://127.0.0.1:1', weight: 4 }, { url: 'http://127.0.0.1:2' }],
        slowStart: '10s',
      }),
      deadlines,
    )
    const [a, b] = u.targets
    assert.equal(a!.weight, 4) // available from the start: no ramp
    a!.drained = true
    u.refresh()
    assert.deepEqual(u.available, [b])
    a!.drained = false
    u.refresh()
    assert.deepEqual(u.available, [a, b])
    assert.ok(a!.availableSince > 0)
    assert.ok(a!.weight < 4 * 0.15, `ramping: ${a!.weight}`) // 10% at first
    assert.equal(a!.configuredWeight, 4)
    u.close()
  })

  it('gives a ramping target a small share at first and its full weight after the window', () => {
    for (const balance of ['round-robin', 'least-request', 'random', 'peak-ewma']) {
      const u = new Upstream(
        'u',
        upstreamConfig({
          targets: [{ url: 'http://127.0.0.1:1' }, { url: 'http://127.0.0.1:2' }],
          balance,
          slowStart: '10s',
        }),
        deadlines,
      )
      const [a] = u.targets
      a!.drained = true
      u.refresh()
      a!.drained = false
      u.refresh()
      let picked = 0
      for (let i = 0; i < 1000; i++) if (u.pick(session(`s${i}`)) === a) picked++
      // At 10% of its weight: about 1 in 11 (a little more as the ramp goes on).
      assert.ok(picked < 250, `${balance}: ramping target took ${picked} of 1000`)
      // Halfway through a ramp, half the weight; past its end, the full weight (no sleeping).
      a!.becameAvailable(performance.now() - 5000, 10_000)
      assert.ok(Math.abs(a!.weight - 0.5) < 0.05, `${a!.weight}`)
      a!.becameAvailable(performance.now() - 10_001, 10_000)
      assert.equal(a!.weight, 1)
      u.close()
    }
  })

  it('a retry avoiding the failed target goes to one other target, the same every time', () => {
    const u = hashedUpstream()
    for (const user of ['ann', 'bob', 'cy']) {
      const first = u.pick(session(user))!
      const retry = u.pick(session(user), first)!
      assert.notEqual(retry, first)
      for (let i = 0; i < 3; i++) {
        assert.equal(u.pick(session(user), first), retry)
        assert.equal(u.pick(session(user)), first)
      }
    }
    u.close()
  })

  it('rebuilds the ring when a weight changes, and keeps it otherwise', () => {
    const u = new Upstream(
      'u',
      upstreamConfig({
        targets: [{ url: 'http://127.0.0.1:1' }, { url: 'http://127.0.0.1:2' }],
        balance: 'consistent-hash',
        hash: { key: 'header:x-user' },
      }),
      deadlines,
    )
    const before = u.available
    u.refresh()
    assert.equal(u.available, before)
    u.targets[0]!.weight = 9
    u.refresh()
    assert.notEqual(u.available, before)
    let heavy = 0
    for (let i = 0; i < 2000; i++) if (u.pick(session(`user-${i}`)) === u.targets[0]) heavy++
    assert.ok(heavy > 1600, `after weight 9: ${heavy} of 2000`)
    u.close()
  })
})

describe('Upstream re-resolution', () => {
  it('expands a host name to one target per address and follows DNS changes', async () => {
    const answers = new Map([['api.internal', ['10.0.0.1', '10.0.0.2']]])
    const u = new Upstream(
      'u',
      upstreamConfig({
        targets: [{ url: 'http://api.internal:8080', weight: 2 }, { url: 'http://127.0.0.1:9' }],
        resolve: { interval: '1m' },
      }),
      deadlines,
      undefined,
      fakeResolver(answers),
    )
    // Before the first answer: one target connecting by name.
    assert.deepEqual(
      u.targets.map((t) => [t.url, t.address]),
      [
        ['http://api.internal:8080', undefined],
        ['http://127.0.0.1:9', undefined],
      ],
    )
    const events: string[] = []
    u.targetsListeners.push((added, removed) =>
      events.push(`+${added.map((t) => t.address).join(',')} -${removed.map((t) => t.address).join(',')}`),
    )
    await u.resolved!.round()
    assert.deepEqual(
      u.targets.map((t) => t.address),
      ['10.0.0.1', '10.0.0.2', undefined],
    )
    const [one, two, ip] = u.targets
    assert.equal(one!.hostHeader, 'api.internal:8080') // Host stays the name
    assert.equal(one!.weight, 2)
    assert.deepEqual(u.available, u.targets)

    answers.set('api.internal', ['10.0.0.2', '10.0.0.3'])
    await u.resolved!.round()
    assert.deepEqual(
      u.targets.map((t) => t.address),
      ['10.0.0.2', '10.0.0.3', undefined],
    )
    assert.equal(u.targets[0], two, 'the target of an address that remains is kept, with its pool')
    assert.equal(u.targets[2], ip)
    assert.ok(!u.available.includes(one!))
    assert.deepEqual(events, ['+10.0.0.1,10.0.0.2 -', '+10.0.0.3 -10.0.0.1'])

    // A failed or empty answer keeps what was known.
    answers.delete('api.internal')
    await u.resolved!.round()
    assert.equal(u.targets.length, 3)
    assert.match(String(u.resolved!.lastError), /ENOTFOUND/)
    answers.set('api.internal', [])
    await u.resolved!.round()
    assert.equal(u.targets.length, 3)
    u.close()
  })

  it('slow-starts a target DNS added', async () => {
    const answers = new Map([['api.internal', ['10.0.0.1']]])
    const u = new Upstream(
      'u',
      upstreamConfig({
        targets: [{ url: 'http://api.internal:8080', weight: 10 }],
        balance: 'least-request',
        slowStart: '30s',
        resolve: {},
      }),
      deadlines,
      undefined,
      fakeResolver(answers),
    )
    await u.resolved!.round()
    answers.set('api.internal', ['10.0.0.1', '10.0.0.2'])
    await u.resolved!.round()
    const added = u.targets.find((t) => t.address === '10.0.0.2')!
    assert.ok(added.weight < 2, `new target ramps: ${added.weight}`)
    u.close()
  })

  it('resolves localhost with the system resolver', async () => {
    const u = new Upstream(
      'u',
      upstreamConfig({ targets: [{ url: 'http://localhost:9' }], resolve: {} }),
      deadlines,
    )
    await u.resolved!.round()
    assert.ok(u.targets.length >= 1)
    assert.ok(
      u.targets.some((t) => t.address === '127.0.0.1' || t.address === '::1'),
      u.targets.map((t) => t.address).join(),
    )
    u.close()
  })
})
