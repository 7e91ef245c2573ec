/**
 * Traces: a gateway with `tracing:` sends OTLP/HTTP JSON spans to a
 * receiver on 127.0.0.1 — one SERVER span per request, one CLIENT span per
 * upstream try under it, the caller's trace honoured, the upstream told
 * about our span — and sends none when sampling says no.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { describe, it, type TestContext } from 'node:test'
import { createGateway } from '../../src/server/gateway.ts'
import { attr, startOtlpReceiver, type ReceivedSpan } from './otlp-receiver.ts'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT = '00f067aa0ba902b7'

/** startOrigin answers 200 and remembers each request's traceparent and tracestate. */
async function startOrigin(t: TestContext) {
  const seen: { traceparent?: string; tracestate?: string }[] = []
  const server = http.createServer((req, res) => {
    seen.push({
      traceparent: req.headers.traceparent as string,
      tracestate: req.headers.tracestate as string,
    })
    req.resume()
    res.end('ok')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

/** closedPort returns a port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path, headers: { host: 'api.test:8080', ...headers }, agent: false },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode!))
      },
    )
    req.on('error', reject)
  })
}

async function tracedGateway(
  t: TestContext,
  tracing: { endpoint: string } & Record<string, unknown>,
  originUrl: string,
) {
  const dead = await closedPort()
  const gw = await createGateway({
    listen: [{ address: '127.0.0.1:0' }],
    upstreams: {
      app: { targets: [{ url: originUrl }] },
      dead: { targets: [{ url: `http://127.0.0.1:${dead}` }] },
    },
    routes: [
      { name: 'app', match: { path: '/app' }, upstream: 'app' },
      { name: 'dead', match: { path: '/dead' }, upstream: 'dead' },
    ],
    tracing: { batch: { delay: '20ms' }, ...tracing },
  })
  await gw.listen()
  t.after(() => gw.close())
  return { gw, port: gw.addresses()[0]!.port }
}

function byKind(spans: ReceivedSpan[], kind: number) {
  return spans.filter((s) => s.kind === kind)
}

describe('tracing', () => {
  it('exports a request span with a child span per upstream try, honouring an incoming traceparent', async (t) => {
    const receiver = await startOtlpReceiver()
    t.after(() => receiver.close())
    const origin = await startOrigin(t)
    const { gw, port } = await tracedGateway(
      t,
      { endpoint: receiver.url, serviceName: 'edge', resource: { 'deployment.environment': 'test' } },
      origin.url,
    )
    assert.equal(
      await get(port, '/app/a?secret=1', { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=x' }),
      200,
    )
    assert.equal(await get(port, '/app/b'), 200)
    assert.equal(await get(port, '/dead/c'), 502)
    assert.equal(await get(port, '/nowhere'), 404)
    await gw.close() // flushes the exporter

    assert.equal(receiver.posts[0]!.path, '/v1/traces', 'an endpoint without a path gets /v1/traces')
    assert.equal(receiver.posts[0]!.headers['content-type'], 'application/json')
    const servers = byKind(receiver.spans, 2)
    const clients = byKind(receiver.spans, 3)
    assert.equal(servers.length, 4, 'one SERVER span per request')
    assert.equal(clients.length, 3, 'one CLIENT span per upstream try')
    for (const s of receiver.spans) {
      assert.equal(s.resource['service.name'], 'edge')
      assert.equal(s.resource['deployment.environment'], 'test')
      assert.match(s.spanId, /^[0-9a-f]{16}$/)
      assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano))
    }

    // The caller's trace: same trace id, our SERVER span is the caller's child, the try ours.
    const a = servers.find((s) => attr(s, 'url.path') === '/app/a')!
    assert.equal(a.traceId, TRACE)
    assert.equal(a.parentSpanId, PARENT)
    assert.equal(attr(a, 'http.request.method'), 'GET')
    assert.equal(attr(a, 'http.response.status_code'), '200')
    assert.equal(attr(a, 'server.address'), 'api.test')
    assert.equal(attr(a, 'server.port'), '8080')
    assert.equal(attr(a, 'portcullis.route'), 'app')
    assert.equal(attr(a, 'url.query'), undefined, 'queries can carry secrets: not recorded')
    assert.equal(a.status?.code ?? 0, 0)
    const aTry = clients.find((s) => s.parentSpanId === a.spanId)!
    assert.ok(aTry, 'the try is a child of the request span')
    assert.equal(aTry.traceId, TRACE)
    assert.equal(attr(aTry, 'server.address'), '127.0.0.1')
    assert.equal(attr(aTry, 'server.port'), new URL(origin.url).port)
    assert.equal(attr(aTry, 'http.response.status_code'), '200')
    assert.equal(attr(aTry, 'portcullis.upstream'), 'app')
    // The origin was told our span is its parent; tracestate passed unchanged.
    assert.equal(origin.seen[0]!.traceparent, `00-${TRACE}-${a.spanId}-01`)
    assert.equal(origin.seen[0]!.tracestate, 'vendor=x')

    // No incoming trace: a new root trace, propagated.
    const b = servers.find((s) => attr(s, 'url.path') === '/app/b')!
    assert.notEqual(b.traceId, TRACE)
    assert.equal(b.parentSpanId, undefined)
    assert.equal(origin.seen[1]!.traceparent, `00-${b.traceId}-${b.spanId}-01`)
    assert.ok(clients.some((s) => s.parentSpanId === b.spanId && s.traceId === b.traceId))

    // A refused upstream: the try carries the stable code and the errno, both spans are errors.
    const c = servers.find((s) => attr(s, 'url.path') === '/dead/c')!
    assert.equal(attr(c, 'http.response.status_code'), '502')
    assert.equal(c.status?.code, 2)
    const cTry = clients.find((s) => s.parentSpanId === c.spanId)!
    assert.equal(attr(cTry, 'error.type'), 'UPSTREAM_CONNECT_REFUSED')
    assert.equal(attr(cTry, 'portcullis.error.cause'), 'ECONNREFUSED')
    assert.equal(attr(cTry, 'http.response.status_code'), undefined, 'no response head arrived')
    assert.equal(cTry.status?.code, 2)

    // No route: a request span only; a 404 is not a server error.
    const d = servers.find((s) => attr(s, 'url.path') === '/nowhere')!
    assert.equal(attr(d, 'http.response.status_code'), '404')
    assert.equal(attr(d, 'error.type'), 'NO_ROUTE')
    assert.equal(d.status?.code ?? 0, 0)
    assert.equal(clients.filter((s) => s.traceId === d.traceId).length, 0)
  })

  it('sampleRatio 0 exports nothing, yet tells the upstream the trace is not sampled', async (t) => {
    const receiver = await startOtlpReceiver()
    t.after(() => receiver.close())
    const origin = await startOrigin(t)
    const { gw, port } = await tracedGateway(t, { endpoint: receiver.url, sampleRatio: 0 }, origin.url)
    for (let i = 0; i < 20; i++) assert.equal(await get(port, '/app/x'), 200)
    await gw.close()
    assert.equal(receiver.spans.length, 0)
    assert.equal(receiver.posts.length, 0)
    assert.match(origin.seen[0]!.traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/)
  })

  it('follows a parent that says not sampled (parent-based), and may be told not to', async (t) => {
    const receiver = await startOtlpReceiver()
    t.after(() => receiver.close())
    const origin = await startOrigin(t)
    const first = await tracedGateway(t, { endpoint: receiver.url, sampleRatio: 1 }, origin.url)
    assert.equal(await get(first.port, '/app/x', { traceparent: `00-${TRACE}-${PARENT}-00` }), 200)
    await first.gw.close()
    assert.equal(receiver.spans.length, 0, 'parent sampled=0: no spans')
    assert.match(origin.seen[0]!.traceparent!, new RegExp(`^00-${TRACE}-[0-9a-f]{16}-00$`))

    const second = await tracedGateway(t, { endpoint: receiver.url, parentBased: false }, origin.url)
    assert.equal(await get(second.port, '/app/y', { traceparent: `00-${TRACE}-${PARENT}-00` }), 200)
    await second.gw.close()
    assert.equal(byKind(receiver.spans, 2).length, 1, 'parentBased off: the ratio (1) decides')
    assert.equal(receiver.spans[0]!.traceId, TRACE)
  })

  it('retries a collector that answers 503, and sends gzip when asked', async (t) => {
    const receiver = await startOtlpReceiver([503])
    t.after(() => receiver.close())
    const origin = await startOrigin(t)
    const { gw, port } = await tracedGateway(
      t,
      { endpoint: `${receiver.url}/custom/traces`, compression: 'gzip', headers: { 'x-api-key': 'k1' } },
      origin.url,
    )
    assert.equal(await get(port, '/app/x'), 200)
    await gw.close()
    assert.deepEqual(
      receiver.posts.map((p) => p.status),
      [503, 200],
    )
    assert.equal(receiver.posts[1]!.path, '/custom/traces')
    assert.equal(receiver.posts[1]!.headers['content-encoding'], 'gzip')
    assert.equal(receiver.posts[1]!.headers['x-api-key'], 'k1')
    assert.equal(receiver.spans.length, 2)
  })
})
