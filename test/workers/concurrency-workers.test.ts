/**
 * A route's concurrency limit is the instance's, whatever the worker count:
 * `portcullis start` with 2 worker processes (connections handed out in
 * turn, so both workers take requests) and `concurrency: { max: 4 }` lets
 * exactly 4 of 20 concurrent requests reach an origin that holds its
 * answers; the other 16 get 503 CONCURRENCY_LIMITED. Once the 4 end, 4 more
 * get in (the slots came back from whichever worker held them).
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import { describe, it } from 'node:test'
import { startWithConfig, withTempDir } from '../cli/run-cli.ts'
import { startOrigin, waitFor } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'

describe('concurrency on the shared store with 2 workers', () => {
  it('lets exactly max requests in across both workers', { timeout: 60_000 }, async (t) => {
    const held: http.ServerResponse[] = []
    const origin = await startOrigin((_req, res) => void held.push(res), { t })
    await withTempDir(async (dir) => {
      const { cli, port } = await startWithConfig(t, dir, [
        'workers: 2',
        'supervisor: { accept: round-robin }',
        'listen:',
        '  - address: 127.0.0.1:0',
        `upstreams: { origin: { targets: [{ url: "${origin.url}" }] } }`,
        'routes:',
        '  - name: limited',
        '    upstream: origin',
        '    concurrency: { max: 4 }',
      ])
      const url = `http://127.0.0.1:${port}/`

      for (const round of [1, 2]) {
        const answers = Array.from({ length: 20 }, () => get(url, { accept: 'application/json' }))
        const refused: number[] = []
        for (const a of answers) void a.then((r) => r.status === 503 && refused.push(r.status))
        await waitFor(() => refused.length === 16, `round ${round}: 16 refused`, 10_000)
        // Give a 5th request time to get through if the limit were per worker.
        await new Promise((r) => setTimeout(r, 200))
        assert.equal(held.length, 4 * round, `round ${round}: requests at the origin`)
        for (const res of held.slice(-4)) res.end('ok')
        const statuses = (await Promise.all(answers)).map((r) => r.status)
        assert.equal(statuses.filter((s) => s === 200).length, 4)
        assert.equal(statuses.filter((s) => s === 503).length, 16)
        // The slots go back to the store within a few ms of idling (shared-slots.ts).
        await new Promise((r) => setTimeout(r, 100))
      }
      cli.child.kill('SIGTERM')
      assert.equal(await cli.exited, 0)
    })
  })
})
