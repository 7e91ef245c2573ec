/**
 * Active health checks with `portcullis start` and 2 worker processes: one
 * probe per target per interval for the whole instance (the lease in the
 * shared store), not one per worker, counted at the origin; and a verdict
 * reached by the probing worker is applied by both (every request, spread
 * over both workers, avoids the target marked down).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startWithConfig, withTempDir } from '../cli/run-cli.ts'
import { startFaultOrigin } from '../helpers/fault-origin.ts'

// Probe timeouts near the interval: on a loaded machine a probe of a live target must not time out.
const INTERVAL = 400

/** bodies fetches `n` times on new connections, so the supervisor's round-robin reaches both workers. */
async function bodies(port: number, n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })
    out.push(await r.text())
  }
  return out
}

/** The config both tests share: 2 workers handed connections in turn, upstream `app` on origins a and b (its health follows). */
function twoWorkersBefore(a: string, b: string): string[] {
  return [
    'workers: 2',
    'supervisor: { accept: round-robin }',
    'listen:',
    '  - address: 127.0.0.1:0',
    'upstreams:',
    '  app:',
    `    targets: [{ url: "${a}" }, { url: "${b}" }]`,
  ]
}

test(
  '2 workers: one probe per target per interval for the instance, verdicts applied by both',
  { timeout: 120_000 },
  async (t) => {
    const a = await startFaultOrigin({ t, name: 'a' })
    const b = await startFaultOrigin({ t, name: 'b' })
    await withTempDir(async (dir) => {
      const { cli, port } = await startWithConfig(
        t,
        dir,
        [
          ...twoWorkersBefore(a.url, b.url),
          '    health:',
          `      active: { path: /healthz, interval: ${INTERVAL}ms, timeout: 350ms, jitter: 40ms, unhealthyThreshold: 2, healthyThreshold: 1 }`,
          'routes:',
          '  - upstream: app',
        ],
        60_000,
      )
      // Both workers answer (round-robin over new connections) before counting starts.
      assert.deepEqual((await bodies(Number(port), 4)).sort(), ['a', 'a', 'b', 'b'])

      const startA = a.count('/healthz')
      const started = performance.now()
      await new Promise((r) => setTimeout(r, 15 * INTERVAL))
      const probes = a.count('/healthz') - startA
      const intervals = (performance.now() - started) / INTERVAL
      t.diagnostic(`${probes} probes of one target in ${intervals.toFixed(1)} intervals with 2 workers`)
      // One prober: about one probe per interval (fewer when timers run late); a
      // probe per worker would be about two.
      assert.ok(probes >= 1 && probes <= intervals * 1.3 + 1, `${probes} probes in ${intervals} intervals`)

      b.setFor('/healthz', { mode: 'error' })
      // Until both workers took the verdict, some requests may still reach b; bounded.
      let seen: string[] = []
      for (let round = 0; round < 40; round++) {
        seen = await bodies(Number(port), 6)
        if (seen.every((s) => s === 'a')) break
        await new Promise((r) => setTimeout(r, INTERVAL))
      }
      assert.deepEqual(seen, ['a', 'a', 'a', 'a', 'a', 'a'])
      cli.child.kill('SIGTERM')
      assert.equal(await cli.exited, 0)
    })
  },
)

test('2 workers: an ejection one worker decides is applied by the other', { timeout: 120_000 }, async (t) => {
  const a = await startFaultOrigin({ t, name: 'a' })
  const b = await startFaultOrigin({ t, name: 'b' })
  await withTempDir(async (dir) => {
    const { cli, port } = await startWithConfig(
      t,
      dir,
      [
        ...twoWorkersBefore(a.url, b.url),
        '    health:',
        '      passive: { consecutiveFailures: 2, baseEjectionTime: 60s }',
        'routes:',
        '  - upstream: app',
      ],
      60_000,
    )
    await b.set('refuse')
    // New connections alternate between the workers, and each worker's round
    // robin alternates a and b: alone, each worker would need 2 failures on b
    // (4 in all); with the ejection shared, the second worker is spared its
    // second. A pause between requests lets the ejection reach it.
    const statuses: number[] = []
    for (let i = 0; i < 16; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })
      statuses.push(r.status)
      await r.arrayBuffer()
      await new Promise((r) => setTimeout(r, 100))
    }
    const failed = statuses.filter((s) => s !== 200).length
    t.diagnostic(`statuses with b refusing: ${statuses.join(' ')}`)
    assert.ok(failed >= 2 && failed <= 3, `${failed} failed requests`)
    assert.deepEqual(statuses.slice(-8), [200, 200, 200, 200, 200, 200, 200, 200])
    cli.child.kill('SIGTERM')
    assert.equal(await cli.exited, 0)
  })
})
