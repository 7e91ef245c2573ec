/**
 * A rate limit on the shared store is exact whatever the worker count:
 * `portcullis start` with 2 worker processes (the supervisor hands the 200
 * connections out in turn; its SharedStoreHost holds the counters) lets
 * exactly 100 of 2,000 concurrent requests through a limit of 100.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startWithConfig, withTempDir } from '../cli/run-cli.ts'
import { burst } from '../helpers/http-get.ts'

describe('rateLimit on the shared store with 2 workers', () => {
  // Each worker leases decisions ahead (modules/rate-limit/leases.ts, `lease: 10ms` by default): still exact.
  for (const algorithm of ['gcra', 'sliding-window'])
    it(
      `${algorithm}: lets exactly 100 of 2,000 concurrent requests through`,
      { timeout: 60_000 },
      async (t) => {
        await withTempDir(async (dir) => {
          const { cli, port } = await startWithConfig(t, dir, [
            'workers: 2',
            // The supervisor hands connections out in turn, so both workers decide (shared accept
            // leaves the spread to the kernel, which may favour one).
            'supervisor: { accept: round-robin }',
            'listen:',
            '  - address: 127.0.0.1:0',
            'rateLimits:',
            `  everyone: { rate: 100/h, key: route, store: shared, algorithm: ${algorithm} }`,
            'routes:',
            '  - name: limited',
            '    respond: { body: ok }',
            '    rateLimit: everyone',
          ])
          // 200 connections, each new one handed to the next worker by the primary.
          const started = performance.now()
          const counts = await burst([`http://127.0.0.1:${port}/`], 2000, 200)
          const ms = Math.round(performance.now() - started)
          t.diagnostic(`2 workers, 2,000 requests: ${JSON.stringify([...counts])} in ${ms} ms`)
          assert.equal(counts.get(200), 100)
          assert.equal(counts.get(429), 1900)
          cli.child.kill('SIGTERM')
          assert.equal(await cli.exited, 0)
        })
      },
    )
})
