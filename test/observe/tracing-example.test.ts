/**
 * examples/tracing.yaml does what its comments say: loaded as `portcullis
 * start` loads it (the collector and the origin moved to test servers), a
 * request with a sampled traceparent becomes two spans of service
 * `edge-gateway`, and the origin is told the gateway's span.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import { createGateway } from '../../src/server/gateway.ts'
import { startOtlpReceiver } from './otlp-receiver.ts'

test('examples/tracing.yaml exports a sampled request as a span tree', async (t) => {
  const receiver = await startOtlpReceiver()
  t.after(() => receiver.close())
  const seen: string[] = []
  const origin = http.createServer((req, res) => {
    seen.push(String(req.headers.traceparent))
    res.end('ok')
  })
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
  t.after(() => origin.close())

  const loaded = await loadConfig(join(import.meta.dirname, '..', '..', 'examples', 'tracing.yaml'), {})
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems))
  const config = structuredClone(loaded.config)
  assert.equal(config.tracing?.sampleRatio, 0.25)
  config.listen = [{ address: { host: '127.0.0.1', port: 0 } }]
  config.tracing!.endpoint = receiver.url
  config.upstreams.api!.targets[0]!.url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
  const gw = await createGateway(config)
  await gw.listen()
  const port = gw.addresses()[0]!.port
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736'
  const status = await new Promise<number>((resolve, reject) => {
    const headers = { traceparent: `00-${trace}-00f067aa0ba902b7-01` }
    http
      .get({ host: '127.0.0.1', port, path: '/api/x', headers, agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode!))
      })
      .on('error', reject)
  })
  assert.equal(status, 200)
  await gw.close()

  const spans = receiver.spans.filter((s) => s.traceId === trace)
  assert.equal(spans.length, 2)
  assert.equal(spans[0]!.resource['service.name'], 'edge-gateway')
  assert.equal(spans[0]!.resource['deployment.environment'], 'dev')
  const server = spans.find((s) => s.kind === 2)!
  assert.ok(spans.some((s) => s.kind === 3 && s.parentSpanId === server.spanId))
  assert.equal(seen[0], `00-${trace}-${server.spanId}-01`)
})
