/**
 * The dashboard's API without a browser: a client reads the event stream
 * (/dashboard/api/events) as the page does, a request it lists opens with
 * its (redacted) headers, and once more than RECENT_KEPT newer requests
 * went by, the same request is no longer kept: 404 NOT_FOUND, which the page
 * answers with what its list has (dashboard-browser.test.ts checks that).
 * Real gateway and admin listener on 127.0.0.1 port 0, bounded in requests.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { test } from 'node:test'
import { RECENT_KEPT } from '../../src/observe/dashboard/feed.ts'
import type { RecentRequest } from '../../src/observe/dashboard/live-stats.ts'
import { createGateway } from '../../src/server/gateway.ts'

type Listed = Omit<RecentRequest, 'headers'>

/** Requests each serving process reports per read (live-stats.ts RING_SIZE is 256): batches stay below it. */
const BATCH = 200

/** events reads the stream like the page: every request listed (history and ticks), in order. */
async function events(url: string, signal: AbortSignal): Promise<{ listed: Listed[] }> {
  const res = await fetch(url, { signal })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
  const seen = { listed: [] as Listed[] }
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  void (async () => {
    let buffer = ''
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        buffer += value
        let end
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as { requests: Listed[] }
          seen.listed.push(...data.requests)
        }
      }
    } catch {
      // aborted at the end of the test
    }
  })()
  return seen
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${path}`)))
    req.on('error', reject)
  })
}

async function until(what: string, predicate: () => boolean, timeout = 20_000): Promise<void> {
  const end = Date.now() + timeout
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test(`a listed request opens with its headers; past ${RECENT_KEPT} newer ones it is no longer kept (404)`, async (t) => {
  const gw = await createGateway({
    listen: [{ address: '127.0.0.1:0' }],
    admin: { address: '127.0.0.1:0' },
    routes: [{ name: 'hello', respond: { body: 'hi' } }],
  })
  await gw.listen()
  t.after(() => gw.close({ drainTimeout: 1000 }))
  const admin = `http://127.0.0.1:${gw.admin!.server!.address().port}`
  const port = gw.addresses()[0]!.port
  const stop = new AbortController()
  t.after(() => stop.abort())
  const stream = await events(`${admin}/dashboard/api/events`, stop.signal)

  // The statistics start with the page's first read (on demand): a probe sent before is not seen,
  // so it is sent again until one is listed.
  const count = (prefix: string) => stream.listed.filter((r) => r.path.startsWith(prefix)).length
  for (let probes = 0; count('/old') === 0; probes++) {
    assert.ok(probes < 40, 'a probe request is listed within seconds')
    assert.equal(await get(port, '/old', { 'x-probe': String(probes), cookie: 'session=abc' }), 200)
    await new Promise((r) => setTimeout(r, 250))
  }
  const old = stream.listed.find((r) => r.path === '/old')!
  const opened = await fetch(`${admin}/dashboard/api/requests/${encodeURIComponent(old.key)}`)
  assert.equal(opened.status, 200)
  const detail = (await opened.json()) as RecentRequest
  assert.equal(detail.requestId, old.requestId)
  const field = (name: string) =>
    detail.headers[detail.headers.findIndex((h) => h.toLowerCase() === name) + 1]
  assert.equal(field('cookie'), '[redacted]')
  assert.match(field('x-probe') ?? '', /^\d+$/)

  // More than RECENT_KEPT newer requests, in batches each process reports whole.
  let sent = 0
  while (sent <= RECENT_KEPT) {
    const batch = Array.from({ length: BATCH }, (_, i) => sent + i)
    sent += BATCH
    for (let i = 0; i < batch.length; i += 4)
      await Promise.all(batch.slice(i, i + 4).map((n) => get(port, `/later/${n}`)))
    await until(`${sent} newer requests listed`, () => count('/later/') >= sent)
  }
  const gone = await fetch(`${admin}/dashboard/api/requests/${encodeURIComponent(old.key)}`)
  assert.equal(gone.status, 404)
  assert.deepEqual(await gone.json(), { error: 'NOT_FOUND', message: 'that request is no longer kept' })
  // The newest are still kept.
  const newest = stream.listed.at(-1)!
  assert.equal((await fetch(`${admin}/dashboard/api/requests/${encodeURIComponent(newest.key)}`)).status, 200)
})
