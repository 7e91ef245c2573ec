/**
 * The fault origin itself: each mode does what tests built on it expect.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { get } from '../helpers/http-get.ts'
import { startFaultOrigin } from '../helpers/fault-origin.ts'

function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.on('connect', () => {
      s.destroy()
      resolve(undefined)
    })
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code))
  })
}

test('fault origin: ok, error rate, refuse and back, close, reset, hang, slow, per-path', async (t) => {
  const o = await startFaultOrigin({ t, name: 'a' })
  assert.equal((await get(o.url)).body, 'a')

  await o.set({ mode: 'error', rate: 0.5, status: 502 })
  const statuses = []
  for (let i = 0; i < 4; i++) statuses.push((await get(o.url)).status)
  assert.deepEqual(statuses, [200, 502, 200, 502])

  await o.set('refuse')
  assert.equal(await connectError(o.port), 'ECONNREFUSED')
  await o.set('ok')
  assert.equal((await get(o.url)).status, 200)

  await o.set('close')
  await assert.rejects(get(o.url))
  assert.equal(o.stats.closed, 1)

  await o.set('reset')
  await assert.rejects(get(o.url))
  assert.equal(o.stats.resets, 1)

  await o.set('hang')
  await assert.rejects(get(o.url, {}, { timeout: 200 }))
  assert.equal(o.stats.hung, 1)

  await o.set({ mode: 'slow', delayMs: 50 })
  assert.equal((await get(o.url)).status, 200)

  o.setFor('/healthz', { mode: 'ok', body: 'up' })
  await o.set({ mode: 'error' })
  assert.equal((await get(`${o.url}/healthz?x=1`)).body, 'up')
  assert.equal((await get(`${o.url}/other`)).status, 503)
  assert.equal(o.count('/healthz'), 1)
  assert.ok(o.stats.requests >= 10)
})
