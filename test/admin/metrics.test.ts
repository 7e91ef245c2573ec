/**
 * /metrics after known traffic, in one process: exact counts of requests
 * by route, method and status class, upstream tries per target, errors by
 * code, policy outcomes, bytes and the latency histogram's count; labels
 * never carry paths, client addresses or request ids.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import tls from 'node:tls'
import { hasOpenssl, makeSelfSigned } from '../fixtures/self-signed.ts'
import { withTempDir } from '../cli/run-cli.ts'
import { startGateway, startOrigin } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'
import { scrapeUntil, value } from './prom.ts'

const noOpenssl = (await hasOpenssl()) ? false : 'openssl is needed to make a test certificate'

describe('admin /metrics (one process)', () => {
  it('counts known traffic exactly', { timeout: 30_000 }, async (t) => {
    const origin = await startOrigin((_req, res) => res.end('hello'), { t })
    const gw = await startGateway(
      {
        admin: { address: '127.0.0.1:0' },
        upstreams: { origin: { targets: [{ url: origin.url }] } },
        routes: [
          { name: 'api', match: { path: '/api' }, upstream: 'origin' },
          {
            name: 'limited',
            match: { path: '/limited' },
            respond: { body: 'ok' },
            rateLimit: { rate: '1/d', burst: 2, key: 'route' },
          },
        ],
      },
      { t },
    )
    const admin = `http://127.0.0.1:${gw.gw.admin!.server!.address().port}`
    for (let i = 0; i < 10; i++) assert.equal((await get(`${gw.url}/api/items/${i}?q=${i}`)).status, 200)
    for (let i = 0; i < 2; i++)
      assert.equal((await get(`${gw.url}/api/x`, {}, { method: 'POST' })).status, 200)
    for (let i = 0; i < 3; i++) assert.equal((await get(`${gw.url}/nowhere/${i}`)).status, 404)
    const limited = []
    for (let i = 0; i < 5; i++) limited.push((await get(`${gw.url}/limited`)).status)
    assert.deepEqual(limited, [200, 200, 429, 429, 429])

    const s = await scrapeUntil(admin, (s) => value(s, 'portcullis_requests_total') === 20)
    const req = (labels: Record<string, string>) => value(s, 'portcullis_requests_total', labels)
    assert.equal(req({ route: 'api', upstream: 'origin', method: 'GET', status_class: '2xx' }), 10)
    assert.equal(req({ route: 'api', method: 'POST', status_class: '2xx' }), 2)
    assert.equal(req({ route: '(none)', method: 'GET', status_class: '4xx' }), 3)
    assert.equal(req({ route: 'limited', status_class: '2xx' }), 2)
    assert.equal(req({ route: 'limited', status_class: '4xx' }), 3)
    assert.equal(value(s, 'portcullis_request_duration_seconds_count', { route: 'api' }), 12)
    assert.equal(value(s, 'portcullis_request_duration_seconds_bucket', { route: 'api', le: '+Inf' }), 12)
    const target = new URL(origin.url).origin
    assert.equal(
      value(s, 'portcullis_upstream_tries_total', { upstream: 'origin', target, status_class: '2xx' }),
      12,
    )
    assert.equal(
      value(s, 'portcullis_upstream_try_duration_seconds_count', { upstream: 'origin', target }),
      12,
    )
    assert.equal(value(s, 'portcullis_errors_total', { code: 'NO_ROUTE' }), 3)
    assert.equal(value(s, 'portcullis_errors_total', { code: 'RATE_LIMITED' }), 3)
    assert.equal(
      value(s, 'portcullis_policy_outcomes_total', { route: 'limited', outcome: 'rate_limited' }),
      3,
    )
    assert.ok(value(s, 'portcullis_response_bytes_total', { route: 'api' }) > 12 * 5)
    assert.equal(
      value(s, 'portcullis_upstream_connections', { upstream: 'origin', target, state: 'open' }),
      1,
    )
    assert.equal(value(s, 'portcullis_upstream_target_available', { upstream: 'origin', target }), 1)
    assert.ok(value(s, 'portcullis_process_resident_memory_bytes', { worker: '0' }) > 0)
    // Bounded labels: no path, query or client address anywhere.
    for (const sample of s)
      for (const [k, v] of Object.entries(sample.labels)) {
        assert.doesNotMatch(v, /items|nowhere|q=/)
        if (k !== 'target') assert.doesNotMatch(v, /127\.0\.0\.1/)
      }
  })

  it('no collector without admin: or with metrics: false; the collector subscribes once per channel and leaves at stop', async (t) => {
    const { requestEndChannel, upstreamTryChannel } = await import('../../src/observe/channels.ts')
    const { MetricsCollector } = await import('../../src/observe/metrics/collector.ts')
    const routes = [{ match: {}, respond: { body: 'ok' } }]
    const plain = await startGateway({ routes }, { t })
    assert.equal(plain.gw.admin, undefined)
    const off = await startGateway({ admin: { address: '127.0.0.1:0', metrics: false }, routes }, { t })
    assert.equal(off.gw.admin!.metrics, undefined)
    const metricsOff = await fetch(`http://127.0.0.1:${off.gw.admin!.server!.address().port}/metrics`)
    assert.equal(metricsOff.status, 404)
    // Other observers (logs, tracing, the dashboard's live stats) subscribe
    // too, so count what one collector adds and removes.
    const count = () =>
      [requestEndChannel, upstreamTryChannel].map(
        (c) => (c as unknown as { _subscribers?: unknown[] })._subscribers?.length ?? 0,
      )
    const before = count()
    const collector = new MetricsCollector({})
    assert.deepEqual(
      count().map((n, i) => n - before[i]!),
      [1, 1],
    )
    collector.stop()
    assert.deepEqual(count(), before)
  })

  it('counts TLS handshakes: 3 that complete, 2 a client refuses', { skip: noOpenssl }, async (t) => {
    await withTempDir(async (dir) => {
      const cert = await makeSelfSigned(dir)
      const gw = await startGateway(
        {
          listen: [{ address: '127.0.0.1:0', tls: { cert: cert.certPath, key: cert.keyPath } }],
          admin: { address: '127.0.0.1:0' },
          routes: [{ respond: { body: 'ok' } }],
        },
        { t },
      )
      const handshake = (ca: string | undefined) =>
        new Promise<boolean>((resolve) => {
          const s = tls.connect({ host: '127.0.0.1', port: gw.port, servername: 'localhost', ca }, () => {
            s.end()
            resolve(true)
          })
          s.on('error', () => resolve(false))
        })
      for (let i = 0; i < 3; i++) assert.equal(await handshake(cert.cert), true)
      // Without the CA the client refuses the certificate and aborts the handshake.
      for (let i = 0; i < 2; i++) assert.equal(await handshake(undefined), false)
      const admin = `http://127.0.0.1:${gw.gw.admin!.server!.address().port}`
      const s = await scrapeUntil(
        admin,
        (s) => value(s, 'portcullis_tls_handshakes_total', { result: 'failed' }) === 2,
      )
      assert.equal(value(s, 'portcullis_tls_handshakes_total', { result: 'ok' }), 3)
      assert.equal(value(s, 'portcullis_tls_handshakes_total', { result: 'failed' }), 2)
    })
  })
})
