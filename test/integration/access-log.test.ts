/**
 * The access log: one JSON line per request with the fields operators grep
 * for (request id, method, path, status, bytes, upstream, durations, error
 * code), written by pino to a file and flushed on close.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createGateway } from '../../src/server/gateway.ts'

function request(port: number, path: string, body?: string): Promise<{ status: number; id: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', agent: false },
      (res) => {
        res.resume()
        res.on('end', () =>
          resolve({ status: res.statusCode!, id: String(res.headers['x-request-id'] ?? '') }),
        )
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

describe('access log', () => {
  it('writes one JSON line per request with ids, sizes, upstream, durations and error codes', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-log-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const origin = http.createServer((req, res) => {
      req.resume()
      req.on('end', () => res.end('hello from the origin'))
    })
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
    t.after(() => origin.close())
    const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
    const path = join(dir, 'access.log')
    const gw = await createGateway({
      listen: [{ address: '127.0.0.1:0' }],
      upstreams: { app: { targets: [{ url: originUrl }] } },
      routes: [{ name: 'app', match: { path: '/app' }, upstream: 'app' }],
      proxy: { echoRequestId: true },
      accessLog: { enabled: true, path },
    })
    await gw.listen()
    const port = gw.addresses()[0]!.port
    const ok = await request(port, '/app/x?y=1', 'twelve bytes')
    const missing = await request(port, '/nowhere')
    assert.equal(ok.status, 200)
    assert.equal(missing.status, 404)
    await gw.close()

    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.equal(lines.length, 2, 'one line per request')
    const [a, b] = lines as [Record<string, unknown>, Record<string, unknown>]
    assert.equal(a.requestId, ok.id)
    assert.equal(a.method, 'POST')
    assert.equal(a.path, '/app/x')
    assert.equal(a.status, 200)
    assert.equal(a.bytesIn, 12)
    assert.ok((a.bytesOut as number) > 'hello from the origin'.length, 'head and body counted')
    assert.equal(a.route, 'app')
    assert.equal(a.upstream, originUrl)
    assert.equal(a.error, undefined)
    assert.ok(typeof a.time === 'string' && !Number.isNaN(Date.parse(a.time)))
    for (const d of ['durationMs', 'upstreamConnectMs', 'upstreamHeadMs']) {
      assert.ok(typeof a[d] === 'number' && (a[d] as number) >= 0, `${d}: ${a[d]}`)
    }
    assert.equal(b.requestId, missing.id)
    assert.equal(b.status, 404)
    assert.equal(b.error, 'NO_ROUTE')
    assert.equal(b.upstream, undefined)
  })
})
