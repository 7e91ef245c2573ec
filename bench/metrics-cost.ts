/**
 * The per-request cost of metrics, to choose between prom-client and the
 * hand-written collector (src/observe/metrics/collector.ts). Both subscribe
 * to the same two diagnostics channels and record the same series for each
 * request: requests_total{route,upstream,method,status_class}, the request
 * duration histogram{route}, request and response bytes{route}, one upstream
 * try (tries_total{upstream,target,status_class} and its histogram). Each
 * case publishes OPS request-end and try messages (3 routes, 2 targets,
 * realistic durations) and reports ns per request (median of 5 rounds),
 * then the cost of one scrape (rendering the text).
 *
 * Usage: node bench/metrics-cost.ts   (OPS=1000000 by default)
 */
import { performance } from 'node:perf_hooks'
import client from 'prom-client'
import { requestEndChannel, upstreamTryChannel } from '../src/observe/channels.ts'
import { MetricsCollector } from '../src/observe/metrics/collector.ts'
import { renderExposition } from '../src/observe/metrics/exposition.ts'
import { LATENCY_BOUNDS } from '../src/observe/metrics/histogram.ts'

const OPS = Number(process.env.OPS ?? 1_000_000)
const gateway = {}
const routes = ['api', 'static', 'auth'].map((name) => ({ name, upstream: 'origin' }))
const targets = ['http://127.0.0.1:3001', 'http://127.0.0.1:3002']
const sessions = Array.from({ length: 64 }, (_, i) => ({
  route: routes[i % 3],
  method: i % 5 === 0 ? 'POST' : 'GET',
  status: i % 17 === 0 ? 503 : 200,
  timings: { head: 0.01, upstreamConnected: 0, upstreamHead: 0, end: 0.05 + (i % 7) * 0.1 },
  t0: 0,
  bytesIn: i % 5 === 0 ? 512 : 0,
  bytesOut: 300,
  error: undefined,
}))
const tries = sessions.map((s, i) => ({
  gateway,
  session: s,
  upstream: 'origin',
  target: targets[i % 2]!,
  status: s.status,
  code: undefined,
  error: undefined,
  ms: s.timings.end * 0.8,
  attempt: 1,
}))
const ends = sessions.map((session) => ({ gateway, session }))

function run(): number {
  const t0 = performance.now()
  for (let i = 0; i < OPS; i++) {
    const k = i & 63
    upstreamTryChannel.publish(tries[k])
    requestEndChannel.publish(ends[k])
  }
  return ((performance.now() - t0) * 1e6) / OPS
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

function measure(name: string, scrape: () => Promise<string> | string): Promise<void> {
  run() // warm-up
  const rounds = Array.from({ length: 5 }, run)
  return Promise.resolve(scrape()).then(async () => {
    const t0 = performance.now()
    let text = ''
    for (let i = 0; i < 100; i++) text = await scrape()
    const scrapeMs = (performance.now() - t0) / 100
    console.log(
      `${name.padEnd(14)} ${median(rounds).toFixed(0).padStart(5)} ns/request (rounds ${rounds.map((r) => r.toFixed(0)).join(' ')})   scrape ${scrapeMs.toFixed(3)} ms, ${text.length} bytes`,
    )
  })
}

// 0. The floor: publishing with one no-op subscriber on each channel.
const noop = () => {}
requestEndChannel.subscribe(noop)
upstreamTryChannel.subscribe(noop)
await measure('no-op', () => '')
requestEndChannel.unsubscribe(noop)
upstreamTryChannel.unsubscribe(noop)

// 1. Hand-written.
const collector = new MetricsCollector(gateway)
await measure('hand-written', () => renderExposition({ families: collector.families() }))
collector.stop()

// 2. prom-client, the same series.
const registry = new client.Registry()
const requests = new client.Counter({
  name: 'portcullis_requests_total',
  help: 'h',
  labelNames: ['route', 'upstream', 'method', 'status_class'],
  registers: [registry],
})
const duration = new client.Histogram({
  name: 'portcullis_request_duration_seconds',
  help: 'h',
  labelNames: ['route'],
  buckets: [...LATENCY_BOUNDS],
  registers: [registry],
})
const bytesIn = new client.Counter({
  name: 'in_total',
  help: 'h',
  labelNames: ['route'],
  registers: [registry],
})
const bytesOut = new client.Counter({
  name: 'out_total',
  help: 'h',
  labelNames: ['route'],
  registers: [registry],
})
const tryCount = new client.Counter({
  name: 'portcullis_upstream_tries_total',
  help: 'h',
  labelNames: ['upstream', 'target', 'status_class'],
  registers: [registry],
})
const tryDuration = new client.Histogram({
  name: 'portcullis_upstream_try_duration_seconds',
  help: 'h',
  labelNames: ['upstream', 'target'],
  buckets: [...LATENCY_BOUNDS],
  registers: [registry],
})
const cls = (s: number) => `${(s / 100) | 0}xx`
const onEnd = (m: unknown) => {
  const s = (m as (typeof ends)[number]).session
  const route = s.route!.name
  requests.inc({ route, upstream: s.route!.upstream, method: s.method, status_class: cls(s.status) })
  duration.observe({ route }, s.timings.end / 1000)
  bytesIn.inc({ route }, s.bytesIn)
  bytesOut.inc({ route }, s.bytesOut)
}
const onTry = (m: unknown) => {
  const t = m as (typeof tries)[number]
  tryCount.inc({ upstream: t.upstream, target: t.target, status_class: cls(t.status) })
  tryDuration.observe({ upstream: t.upstream, target: t.target }, t.ms / 1000)
}
requestEndChannel.subscribe(onEnd)
upstreamTryChannel.subscribe(onTry)
await measure('prom-client', () => registry.metrics())
