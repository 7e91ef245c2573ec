/**
 * Admin actions seen in traffic, in one process: a drained target gets no
 * new request and gets them again once undrained; a weight changes the
 * split of a round-robin upstream exactly (smooth weighted round-robin);
 * the reload action applies the file and keeps the operator's changes.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { withTempDir } from '../cli/run-cli.ts'
import { createGateway } from '../../src/server/gateway.ts'
import { startOrigin } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'

describe('admin actions in traffic', () => {
  it('drain, undrain, weight, reload', { timeout: 30_000 }, async (t) => {
    const a = await startOrigin((_req, res) => res.end('a'), { t })
    const b = await startOrigin((_req, res) => res.end('b'), { t })
    await withTempDir(async (dir) => {
      const file = join(dir, 'gateway.yaml')
      const yaml = (body: string) =>
        [
          'listen: [{ address: 127.0.0.1:0 }]',
          'admin: { address: 127.0.0.1:0 }',
          `upstreams: { origin: { targets: [{ url: "${a.url}" }, { url: "${b.url}" }] } }`,
          'routes:',
          '  - { match: { path: /p }, upstream: origin }',
          `  - { respond: { body: ${body} } }`,
          '',
        ].join('\n')
      await writeFile(file, yaml('v1'))
      const gw = await createGateway(file)
      t.after(() => gw.close({ drainTimeout: 0 }))
      await gw.listen()
      const url = `http://127.0.0.1:${gw.addresses()[0]!.port}`
      const admin = `http://127.0.0.1:${gw.admin!.server!.address().port}`
      const split = async (n: number) => {
        const counts: Record<string, number> = {}
        for (let i = 0; i < n; i++) {
          const body = (await get(`${url}/p`)).body
          counts[body] = (counts[body] ?? 0) + 1
        }
        return counts
      }
      const post = async (path: string, body: unknown) => {
        const res = await fetch(`${admin}${path}`, { method: 'POST', body: JSON.stringify(body) })
        assert.equal(res.status, 200, await res.clone().text())
        return res.json()
      }

      assert.deepEqual(await split(10), { a: 5, b: 5 })
      await post('/api/upstreams/origin/drain', { target: b.url })
      assert.deepEqual(await split(10), { a: 10 })
      await post('/api/upstreams/origin/undrain', { target: new URL(b.url).origin })
      assert.deepEqual(await split(10), { a: 5, b: 5 })
      await post('/api/upstreams/origin/weight', { target: a.url, weight: 3 })
      assert.deepEqual(await split(40), { a: 30, b: 10 })

      // Reload from the file: the new body serves, the weight set by the API stays.
      await writeFile(file, yaml('v2'))
      assert.deepEqual(await post('/api/reload', {}), { reloaded: true })
      assert.equal((await get(`${url}/x`)).body, 'v2')
      assert.deepEqual(await split(40), { a: 30, b: 10 })
      // A file that does not validate is refused, and the running one keeps serving.
      await writeFile(file, 'routes: nope\n')
      const refused = await fetch(`${admin}/api/reload`, { method: 'POST' })
      assert.equal(refused.status, 422)
      assert.match(((await refused.json()) as { message: string }).message, /routes/)
      assert.equal((await get(`${url}/x`)).body, 'v2')
    })
  })
})
