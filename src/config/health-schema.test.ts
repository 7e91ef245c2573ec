/**
 * The `health:` section: defaults, and problems reported at their place in
 * the file (`file:line:col key: message`).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatProblem } from './errors.ts'
import { parseConfigText } from './load.ts'

function parse(health: string) {
  return parseConfigText(
    `upstreams:\n  api:\n    targets: [{ url: http://a }]\n    health:\n${health}`,
    'g.yaml',
    {},
  )
}

function problems(health: string): string[] {
  const r = parse(health)
  assert.equal(r.ok, false, 'expected the configuration to be refused')
  return r.ok ? [] : r.problems.map(formatProblem)
}

describe('health schema', () => {
  it('fills defaults and converts durations', () => {
    const r = parse('      active: { path: /healthz, interval: 2s }\n      passive: {}\n')
    assert.ok(r.ok)
    const h = r.config.upstreams.api!.health!
    assert.deepEqual(h.active, {
      type: 'http',
      path: '/healthz',
      method: 'GET',
      statuses: ['200-399'],
      interval: 2000,
      timeout: 1000,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    })
    assert.deepEqual(h.passive, {
      consecutiveFailures: 5,
      statuses: ['500-599'],
      baseEjectionTime: 30_000,
      maxEjectionTime: 300_000,
      maxEjectionPercent: 50,
    })
    assert.equal(h.panicThreshold, 0)
    assert.equal(h.store, 'shared')
  })

  it('reports bad statuses, a timeout not below the interval and unknown keys where they are', () => {
    assert.deepEqual(
      problems(
        '      active: { statuses: [200, "299-200"], interval: 1s, timeout: 1s, tresholds: 2 }\n      panicThreshold: 120\n',
      ),
      [
        'g.yaml:5:33 upstreams.api.health.active.statuses.1: must be a status (200) or a range ("200-299")',
        'g.yaml:5:68 upstreams.api.health.active.timeout: must be above 0 and shorter than interval',
        "g.yaml:5:72 upstreams.api.health.active.tresholds: unknown key 'tresholds'",
        'g.yaml:6:23 upstreams.api.health.panicThreshold: must be at most 100',
      ],
    )
  })

  it('refuses store: redis without stores.redis', () => {
    assert.deepEqual(problems('      store: redis\n      passive: {}\n'), [
      'g.yaml:5:14 upstreams.api.health.store: store: redis needs stores.redis (url, cluster or sentinel)',
    ])
  })
})
