/**
 * The balancing keys validate as docs/configuration.md says: defaults,
 * units, and one `file:line:col key: message` line per mistake.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatProblem, parseConfigText } from './load.ts'

function problems(yaml: string): string[] {
  const r = parseConfigText(`listen: [{ address: 8080 }]\nroutes: []\nupstreams:\n${yaml}`, 'gw.yaml', {})
  return r.ok ? [] : r.problems.map(formatProblem)
}

function upstream(yaml: string) {
  const r = parseConfigText(`listen: [{ address: 8080 }]\nroutes: []\nupstreams:\n${yaml}`, 'gw.yaml', {})
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'))
  return r.config.upstreams.u!
}

describe('balance schema', () => {
  it('defaults to round-robin with nothing else', () => {
    const u = upstream('  u:\n    targets: [{ url: "http://127.0.0.1:1" }]\n')
    assert.equal(u.balance, 'round-robin')
    assert.equal(u.hash, undefined)
    assert.equal(u.slowStart, undefined)
    assert.equal(u.resolve, undefined)
  })

  it('reads every algorithm and option, durations in ms', () => {
    const u = upstream(
      '  u:\n    targets: [{ url: "http://h:1" }]\n    balance: consistent-hash\n    hash: { key: "cookie:sid", boundedLoad: 1.25 }\n    resolve: { interval: 10s }\n',
    )
    assert.deepEqual(u.hash, { key: 'cookie:sid', boundedLoad: 1.25 })
    assert.deepEqual(u.resolve, { interval: 10_000, ttl: true })
    const p = upstream(
      '  u:\n    targets: [{ url: "http://h:1" }]\n    balance: peak-ewma\n    peakEwma: { decay: 5s }\n    slowStart: 30s\n',
    )
    assert.deepEqual(p.peakEwma, { decay: 5000 })
    assert.equal(p.slowStart, 30_000)
    for (const b of ['least-request', 'random', 'round-robin'])
      assert.equal(upstream(`  u:\n    targets: [{ url: "http://h:1" }]\n    balance: ${b}\n`).balance, b)
  })

  it('reports mistakes with file, line and key', () => {
    assert.deepEqual(problems('  u:\n    targets: [{ url: "http://h:1" }]\n    balance: consistent-hash\n'), [
      'gw.yaml:4:3 upstreams.u.hash: balance: consistent-hash needs hash.key',
    ])
    const bad = problems(
      '  u:\n    targets: [{ url: "http://h:1" }]\n    balance: consistent-hash\n    hash: { key: "body" }\n',
    )
    assert.equal(bad.length, 1)
    assert.match(bad[0]!, /^gw\.yaml:7:\d+ upstreams\.u\.hash\.key: use header:NAME, cookie:NAME/)
    assert.match(
      problems('  u:\n    targets: [{ url: "http://h:1" }]\n    hash: { key: path }\n')[0]!,
      /^gw\.yaml:6:\d+ upstreams\.u\.hash: applies only to balance: consistent-hash/,
    )
    assert.match(
      problems(
        '  u:\n    targets: [{ url: "http://h:1" }]\n    balance: consistent-hash\n    hash: { key: path }\n    slowStart: 5s\n',
      )[0]!,
      /upstreams\.u\.slowStart: does not apply to balance: consistent-hash/,
    )
    assert.match(
      problems('  u:\n    targets: [{ url: "http://h:1" }]\n    balance: fastest\n')[0]!,
      /upstreams\.u\.balance: .*round-robin/,
    )
    assert.match(
      problems(
        '  u:\n    targets: [{ url: "http://h:1" }]\n    balance: consistent-hash\n    hash: { key: path, boundedLoad: 0.5 }\n',
      )[0]!,
      /upstreams\.u\.hash\.boundedLoad/,
    )
  })
})
