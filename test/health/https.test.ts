/**
 * HTTP probes of an https:// target verify its certificate like the request
 * pool does (the upstream's tls.ca, SNI from the URL's host): with the CA the
 * target stays up, without it the probe fails on verification and the target
 * is marked down.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { hasOpenssl, makeSelfSigned } from '../fixtures/self-signed.ts'
import { startGateway } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'
import { HealthEvents } from './events.ts'

test(
  'https probes: verified with tls.ca, down without it',
  { skip: !(await hasOpenssl()) && 'no openssl' },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-health-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const cert = await makeSelfSigned(dir)
    const origin = https.createServer({ cert: cert.cert, key: cert.key }, (_req, res) => res.end('secure'))
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
    t.after(() => {
      origin.closeAllConnections()
      origin.close()
    })
    const url = `https://localhost:${(origin.address() as AddressInfo).port}`
    const active = { path: '/healthz', interval: '400ms', timeout: '380ms', unhealthyThreshold: 1 }
    const events = new HealthEvents(t)
    const down = events.next(url, 'down')
    const gw = await startGateway(
      {
        upstreams: {
          trusted: {
            targets: [{ url }],
            tls: { ca: cert.certPath },
            health: { active: { ...active, unhealthyThreshold: 3 } },
          },
          untrusted: { targets: [{ url }], health: { active } },
        },
        routes: [
          { match: { path: '/trusted' }, upstream: 'trusted' },
          { match: { path: '/untrusted' }, upstream: 'untrusted' },
        ],
      },
      { t },
    )
    const d = await down
    assert.equal(d.upstream, 'untrusted')
    assert.match(d.reason, /SELF_SIGNED|UNABLE_TO_VERIFY/)
    assert.equal((await get(`${gw.url}/trusted`)).body, 'secure')
    assert.equal((await get(`${gw.url}/untrusted`)).status, 503)
    assert.equal(events.all.filter((e) => e.upstream === 'trusted').length, 0)
  },
)
