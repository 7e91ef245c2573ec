/**
 * The admin listener of `portcullis start --workers 2`: one listener in the
 * supervisor; /metrics sums both workers' counts exactly (and shows each
 * worker's process metrics); a drain reaches both workers (the drained
 * target gets no new request from either) and is kept for a worker started
 * later (a rolling restart); the reload action applies the file to every worker.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { startCli, withTempDir, killAfter } from '../cli/run-cli.ts'
import { startOrigin } from '../helpers/gateway.ts'
import { type Sample, scrapeUntil, value } from './prom.ts'

const LISTENING = /portcullis listening on http:\/\/127\.0\.0\.1:(\d+)/
const ADMIN = /portcullis admin listening on (http:\/\/127\.0\.0\.1:\d+)/
const TOKEN = 'workers-test-token-0123456789'

function yaml(a: string, b: string, body = 'v1'): string {
  return [
    'workers: 2',
    'supervisor: { accept: round-robin }',
    'listen: [{ address: 127.0.0.1:0 }]',
    `admin: { address: 127.0.0.1:0, token: ${TOKEN} }`,
    `upstreams: { origin: { targets: [{ url: "${a}" }, { url: "${b}" }] } }`,
    'routes:',
    '  - { name: proxied, match: { path: /p }, upstream: origin }',
    `  - { name: fixed, respond: { body: ${body} } }`,
    '',
  ].join('\n')
}

describe('admin with --workers 2', () => {
  it('aggregates metrics, drains in every worker, reloads every worker', { timeout: 90_000 }, async (t) => {
    const hits = { a: 0, b: 0 }
    const a = await startOrigin((_req, res) => (hits.a++, res.end('a')), { t })
    const b = await startOrigin((_req, res) => (hits.b++, res.end('b')), { t })
    await withTempDir(async (dir) => {
      const file = join(dir, 'gateway.yaml')
      await writeFile(file, yaml(a.url, b.url))
      const cli = startCli(['start', '-c', file])
      killAfter(t, cli)
      const [, port] = await cli.waitForStderr(LISTENING, 0, 30_000)
      const [, admin] = await cli.waitForStderr(ADMIN, 0, 5_000)
      const auth = { authorization: `Bearer ${TOKEN}` }
      const send = async (path: string, n: number) => {
        const bodies: string[] = []
        for (let i = 0; i < n; i++) {
          // New connections, so round-robin accept spreads them over both workers.
          const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { connection: 'close' } })
          bodies.push(await r.text())
        }
        return bodies
      }

      await send('/p', 20)
      await send('/x', 10)
      let s = await scrapeUntil(admin!, (s) => value(s, 'portcullis_requests_total') === 30, TOKEN)
      assert.equal(value(s, 'portcullis_requests_total', { route: 'proxied', status_class: '2xx' }), 20)
      assert.equal(value(s, 'portcullis_requests_total', { route: 'fixed', status_class: '2xx' }), 10)
      assert.equal(value(s, 'portcullis_upstream_tries_total', { upstream: 'origin' }), 20)
      assert.equal(value(s, 'portcullis_request_duration_seconds_count'), 30)
      assert.equal(value(s, 'portcullis_workers'), 2)
      const workers = new Set(
        s.filter((x) => x.name === 'portcullis_process_resident_memory_bytes').map((x) => x.labels.worker),
      )
      assert.equal(workers.size, 3, `two workers and the supervisor: ${[...workers]}`)
      // Loop delay: the workers' from their Sampler's samples (every second), the supervisor's own.
      const delayWorkers = (s: Sample[]) =>
        new Set(
          s
            .filter((x) => x.name === 'portcullis_event_loop_delay_seconds' && x.labels.quantile === '0.99')
            .map((x) => x.labels.worker),
        )
      const sampled = await scrapeUntil(admin!, (s) => delayWorkers(s).size === 3, TOKEN)
      assert.deepEqual(delayWorkers(sampled), workers)
      // Both workers served (round-robin), and the sum is exact.
      assert.equal(hits.a + hits.b, 20)

      // Drain b: neither worker sends it a new request.
      const drained = await fetch(`${admin}/api/upstreams/origin/drain`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ target: b.url }),
      })
      assert.equal(drained.status, 200)
      assert.equal(((await drained.json()) as { target: { drained: boolean } }).target.drained, true)
      const before = { ...hits }
      assert.deepEqual(new Set(await send('/p', 12)), new Set(['a']))
      assert.equal(hits.b, before.b)
      assert.equal(hits.a, before.a + 12)
      const state = (await (await fetch(`${admin}/api/upstreams/origin`, { headers: auth })).json()) as {
        available: number
        targets: { url: string; drained: boolean }[]
      }
      assert.equal(state.available, 1)
      assert.deepEqual(
        state.targets.map((x) => x.drained),
        [false, true],
      )
      assert.match(
        cli.stderr(),
        /POST \/api\/upstreams\/origin\/drain by token default from 127\.0\.0\.1:\d+: 200/,
      )

      // Reload through the API: both workers answer with the new body.
      await writeFile(file, yaml(a.url, b.url, 'v2'))
      const reloaded = await fetch(`${admin}/api/reload`, { method: 'POST', headers: auth })
      assert.equal(reloaded.status, 200)
      assert.deepEqual(new Set(await send('/x', 6)), new Set(['v2']))
      // The drain outlived the reload.
      assert.deepEqual(new Set(await send('/p', 6)), new Set(['a']))

      s = await scrapeUntil(admin!, (s) => value(s, 'portcullis_requests_total') === 30 + 12 + 12, TOKEN)
      assert.equal(value(s, 'portcullis_requests_total'), 54)

      // A rolling restart (SIGUSR2) replaces both workers: the new ones get the drain before they listen.
      const pids = async () =>
        (
          (await (await fetch(`${admin}/api/workers`, { headers: auth })).json()) as {
            workers: { pid: number }[]
          }
        ).workers
          .map((w) => w.pid)
          .sort()
      const oldPids = await pids()
      const from = cli.stderr().length
      cli.child.kill('SIGUSR2')
      await cli.waitForStderr(/rolling restart done: 2 of 2 workers replaced/, from, 60_000)
      const newPids = await pids()
      assert.equal(newPids.length, 2)
      assert.ok(
        newPids.every((p) => !oldPids.includes(p)),
        `${oldPids} -> ${newPids}`,
      )
      assert.deepEqual(new Set(await send('/p', 6)), new Set(['a']))
      cli.child.kill('SIGTERM')
      assert.equal(await cli.exited, 0)
    })
  })
})
