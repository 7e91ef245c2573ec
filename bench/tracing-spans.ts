/**
 * What tracing costs per request in one process, without the proxy around
 * it: the trace context and traceparent (what forwarding asks), a CLIENT
 * span per try and a SERVER span per request, written into batches and
 * posted to an OTLP sink in a child process (bench/servers/otlp-sink.ts), at
 * sampleRatio 1 and 0. bench/tracing-cost.sh measures the same inside the
 * gateway under wrk.
 *
 * Usage: node --max-semi-space-size=2 bench/tracing-spans.ts [REQUESTS]
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { Session } from '../src/core/session.ts'
import { tracingSchema } from '../src/config/tracing-schema.ts'
import { requestEndChannel, upstreamTryChannel } from '../src/observe/channels.ts'
import { Tracer } from '../src/observe/tracing/tracer.ts'

const N = Number(process.argv[2] ?? 200_000)
const port = 20_000 + Math.floor(Math.random() * 20_000)
const sink = spawn(process.execPath, [join(import.meta.dirname, 'servers', 'otlp-sink.ts'), String(port)], {
  stdio: ['ignore', 'inherit', 'inherit'],
})
await new Promise((r) => setTimeout(r, 1000))
const head = {
  method: 'GET',
  target: '/api/items?page=2',
  host: 'api.example.com',
  rawHeaders: ['Host', 'api.example.com', 'User-Agent', 'curl/8.5.0', 'Accept', '*/*'],
  minor: 1,
} as unknown as ConstructorParameters<typeof Session>[0]

async function run(sampleRatio: number): Promise<void> {
  const gw = {}
  const config = tracingSchema.parse({
    endpoint: `http://127.0.0.1:${port}`,
    sampleRatio,
    batch: { maxQueue: 100_000 },
  })
  const tracer = new Tracer(gw, config)
  const c0 = process.cpuUsage()
  for (let i = 0; i < N; i++) {
    const s = new Session(head, '192.0.2.10', 50000, false, performance.now())
    s.id = '01a24e67-8273-75ce-bbba-559b6cbe3e13'
    tracer.traceparent(s, undefined)
    s.status = 200
    s.timings.end = 0.4
    s.target = 'http://10.0.0.5:3000'
    upstreamTryChannel.publish({ gateway: gw, session: s, upstream: 'api', target: s.target, status: 200, code: undefined, error: undefined, ms: 0.3, attempt: 1 }) // prettier-ignore
    requestEndChannel.publish({ gateway: gw, session: s })
    if (i % 256 === 255) await new Promise((r) => setImmediate(r))
  }
  await tracer.close()
  const c = process.cpuUsage(c0)
  const st = tracer.exporter.stats
  console.log(
    `sampleRatio ${sampleRatio}: ${(((c.user + c.system) / N) * 1000).toFixed(0)} ns per request ` +
      `(exported ${st.exported} spans, dropped ${st.dropped})`,
  )
}

await run(1)
await run(1)
await run(0)
sink.kill('SIGTERM')
