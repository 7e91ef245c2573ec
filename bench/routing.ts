/**
 * What a big route table costs: 1 route against 1,000.
 *
 *   npx node bench/routing.ts [--seconds 5] [--rounds 5] [--skip-e2e]
 *
 * Under a minute of match cost, then about rounds × 2 × (seconds + 3) s end to
 * end (80 s by default); it says so first and prints each figure as it goes.
 *
 * 1. Match cost: `Router.match` in a loop (ns per match) for one catch-all
 *    route, and for a 1,000-route table (prefixes, patterns, exact paths,
 *    hosts, regexes, wildcard hosts) hit at a prefix, a pattern with
 *    parameters, a host, and missed down to the catch-all. A linear scan of
 *    the same table is shown for scale.
 * 2. End to end: a gateway process proxying to a minimal origin, driven by
 *    wrk (autocannon when wrk is missing), alternating 1 route and 1,000
 *    routes round by round. Reported: requests/s and the gateway's CPU time
 *    per request (user + system, from the gateway process itself), medians.
 *
 * The acceptance bar: with 1,000 routes the fast path loses at most 10%.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import net from 'node:net'
import { parseArgs } from 'node:util'
import { configSchema, type GatewayConfigInput } from '../src/config/schema.ts'
import { Session } from '../src/core/session.ts'
import { RequestHead } from '../src/http1/request-head.ts'
import { type CompiledRoute, Router } from '../src/routing/router.ts'

/** The path every end-to-end request asks for: a plain prefix route in the big table. */
const HOT_PATH = '/svc500/items'

/** bigTable is 1,000 routes of every kind, then a catch-all. */
function bigTable(upstream: string): NonNullable<GatewayConfigInput['routes']> {
  const routes: NonNullable<GatewayConfigInput['routes']> = []
  for (let i = 0; i < 999; i++) {
    const kind = i % 5
    const name = `r${i}`
    if (kind === 0) routes.push({ name, match: { path: `/svc${i}` }, upstream })
    else if (kind === 1) routes.push({ name, match: { pattern: `/svc${i}/users/:id` }, upstream })
    else if (kind === 2) routes.push({ name, match: { exact: `/svc${i}/health` }, upstream })
    else if (kind === 3) routes.push({ name, match: { host: `svc${i}.example.com` }, upstream })
    else if (i % 50 === 4) routes.push({ name, match: { regex: `^/re${i}/([0-9]+)$` }, upstream })
    else if (i % 50 === 9) routes.push({ name, match: { host: `*.zone${i}.example.net` }, upstream })
    else routes.push({ name, match: { path: `/svc${i}`, methods: ['GET', 'HEAD'] }, upstream })
  }
  routes.push({ name: 'catch-all', match: {}, upstream })
  return routes
}

function smallTable(upstream: string): NonNullable<GatewayConfigInput['routes']> {
  return [{ name: 'all', match: {}, upstream }]
}

function router(routes: NonNullable<GatewayConfigInput['routes']>): Router {
  const config = configSchema.parse({
    upstreams: { u: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes,
  })
  return new Router(config.routes)
}

function session(host: string, target: string): Session {
  const head = new RequestHead()
  head.method = 'GET'
  head.target = target
  head.host = host
  head.rawHeaders = ['Host', host, 'User-Agent', 'bench', 'Accept', '*/*']
  return new Session(head, '127.0.0.1', 40000, false, 0)
}

/** nsPerOp times `fn` over `n` calls after a warm-up, best of 5 runs. */
function nsPerOp(fn: () => unknown, n = 1_000_000): number {
  for (let i = 0; i < n; i++) fn()
  let best = Number.POSITIVE_INFINITY
  for (let run = 0; run < 5; run++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) fn()
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n)
  }
  return best
}

/** linearScan is the table without its index: every route in precedence order. */
function linearScan(r: Router): (s: Session) => CompiledRoute | undefined {
  const sorted = [...r.routes].sort((a, b) => b.specificity - a.specificity || a.index - b.index)
  return (s) => {
    const target = s.head.target
    const q = target.indexOf('?')
    const end = q === -1 ? target.length : q
    for (const route of sorted) {
      if (route.config.match.host !== undefined) continue
      if (route.pathMatcher !== undefined && !route.pathMatcher.test(target, end)) continue
      if (route.methods !== undefined && !route.methods.has(s.method)) continue
      return route
    }
    return undefined
  }
}

/** matchCost prints ns per match; returns what the 1,000-route prefix hit costs over 1 route. */
function matchCost(): number {
  const one = router(smallTable('u'))
  const big = router(bigTable('u'))
  const cases: [string, Router | ((s: Session) => unknown), Session, string][] = [
    ['1 route, catch-all', one, session('gw.test', HOT_PATH), 'all'],
    ['1,000 routes, prefix hit', big, session('gw.test', HOT_PATH), 'r500'],
    ['1,000 routes, prefix hit, query', big, session('gw.test', `${HOT_PATH}?a=1&b=2`), 'r500'],
    ['1,000 routes, pattern hit (params)', big, session('gw.test', '/svc501/users/42'), 'r501'],
    ['1,000 routes, exact host hit', big, session('svc503.example.com:8080', '/x'), 'r503'],
    ['1,000 routes, wildcard host hit', big, session('a.zone59.example.net', '/x'), 'r59'],
    ['1,000 routes, regex hit', big, session('gw.test', '/re54/7'), 'r54'],
    ['1,000 routes, miss to catch-all', big, session('gw.test', '/nothing/here'), 'catch-all'],
    ['1,000 routes, linear scan (no index)', linearScan(big), session('gw.test', HOT_PATH), 'r500'],
  ]
  console.log('\nmatch cost (ns per match, best of 5 × 1M; the linear scan 5 × 20k)')
  const costs: number[] = []
  for (const [label, r, s, expected] of cases) {
    const match = r instanceof Router ? (x: Session) => r.match(x) : r
    const got = (match(s) as CompiledRoute | undefined)?.name
    if (got !== expected) throw new Error(`${label}: matched ${got}, expected ${expected}`)
    // The label first: a case takes seconds, and the run should not look stuck.
    process.stdout.write(`  ${label.padEnd(40)} `)
    // The scan costs microseconds per call: 1M calls of it took over a minute.
    const ns = nsPerOp(() => match(s), r instanceof Router ? 1_000_000 : 20_000)
    costs.push(ns)
    console.log(`${ns.toFixed(1).padStart(8)} ns`)
  }
  return costs[1]! - costs[0]!
}

// --- end to end ---

interface Sample {
  rps: number
  cpuUsPerRequest: number
}

async function endToEnd(seconds: number, rounds: number, extraMatchNs: number): Promise<void> {
  const originPort = await freePort()
  const origin = spawn(process.execPath, [import.meta.filename, '--origin', String(originPort)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  try {
    await waitForPort(originPort)
    console.log(
      `\nend to end: ${rounds} rounds × 2 tables × (1 s warm-up + ${seconds} s), about ${rounds * 2 * (seconds + 3)} s`,
    )
    const samples: Record<'1' | '1000', Sample[]> = { '1': [], '1000': [] }
    for (let round = 1; round <= rounds; round++) {
      for (const n of ['1', '1000'] as const) {
        const s = await oneRun(Number(n), originPort, seconds)
        samples[n].push(s)
        console.log(
          `  round ${round} ${n.padStart(4)} route(s): ${s.rps.toFixed(0).padStart(7)} req/s, ${s.cpuUsPerRequest.toFixed(2)} µs CPU/request`,
        )
      }
    }
    const m1 = medians(samples['1'])
    const m1000 = medians(samples['1000'])
    console.log(`\nend to end, medians of ${rounds} rounds × ${seconds}s (${loadTool()}, 32 connections):`)
    console.log(`      1 route : ${m1.rps.toFixed(0)} req/s, ${m1.cpuUsPerRequest.toFixed(2)} µs CPU/request`)
    console.log(
      `  1,000 routes: ${m1000.rps.toFixed(0)} req/s, ${m1000.cpuUsPerRequest.toFixed(2)} µs CPU/request`,
    )
    const rpsLoss = (1 - m1000.rps / m1.rps) * 100
    const cpuCost = (m1000.cpuUsPerRequest / m1.cpuUsPerRequest - 1) * 100
    console.log(
      `  throughput change ${(-rpsLoss).toFixed(1)}%, CPU per request change ${cpuCost.toFixed(1)}%`,
    )
    console.log(`  (bar: at most 10% lost) → ${rpsLoss <= 10 && cpuCost <= 10 ? 'PASS' : 'FAIL'}`)
    // The end-to-end figures carry the machine's noise; the match cost does not.
    const share = (extraMatchNs / 1000 / m1.cpuUsPerRequest) * 100
    console.log(
      `  the extra match cost (${extraMatchNs.toFixed(0)} ns) is ${share.toFixed(2)}% of the CPU a request takes with 1 route`,
    )
  } finally {
    origin.kill('SIGKILL')
  }
}

function medians(samples: readonly Sample[]): Sample {
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  return { rps: med(samples.map((s) => s.rps)), cpuUsPerRequest: med(samples.map((s) => s.cpuUsPerRequest)) }
}

async function oneRun(routes: number, originPort: number, seconds: number): Promise<Sample> {
  const port = await freePort()
  const gw = spawn(
    process.execPath,
    [import.meta.filename, '--gateway', String(routes), String(port), String(originPort)],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  try {
    await waitForPort(port)
    await load(port, 1) // warm-up
    const before = await cpuOf(gw)
    const { rps, requests } = await load(port, seconds)
    const after = await cpuOf(gw)
    return { rps, cpuUsPerRequest: (after - before) / requests }
  } finally {
    gw.kill('SIGKILL')
  }
}

/** cpuOf asks the gateway process for its CPU time (user + system), in µs. */
function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as number))
    child.send('cpu')
  })
}

function loadTool(): 'wrk' | 'autocannon' {
  return spawnSync('wrk', ['--version']).error === undefined ? 'wrk' : 'autocannon'
}

async function load(port: number, seconds: number): Promise<{ rps: number; requests: number }> {
  const url = `http://127.0.0.1:${port}${HOT_PATH}`
  if (loadTool() === 'wrk') {
    const out = await output('wrk', ['-t1', '-c32', `-d${seconds}s`, url])
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
    const requests = Number(/(\d+) requests in/.exec(out)?.[1])
    if (!(rps > 0)) throw new Error(`cannot read wrk output: ${out}`)
    if (/Non-2xx/.test(out)) throw new Error(`errors under load: ${out}`)
    return { rps, requests }
  }
  const bin = new URL('../node_modules/autocannon/autocannon.js', import.meta.url).pathname
  const out = await output(process.execPath, [bin, '-j', '-c', '32', '-d', String(seconds), url])
  const j = JSON.parse(out) as { requests: { average: number; total: number }; non2xx: number }
  if (j.non2xx > 0) throw new Error('non-2xx responses under load')
  return { rps: j.requests.average, requests: j.requests.total }
}

function output(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    p.on('error', reject)
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${out}`))))
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy()
        resolve(true)
      })
      c.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`nothing listens on ${port}`)
}

// --- child processes ---

/** runOrigin answers every request head with a fixed 200: as little origin cost as possible. */
function runOrigin(port: number): void {
  const response = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok')
  net
    .createServer((socket) => {
      let tail = ''
      socket.on('data', (d: Buffer) => {
        const text = tail + d.toString('latin1')
        let at = 0
        let n = 0
        for (let i = text.indexOf('\r\n\r\n'); i !== -1; i = text.indexOf('\r\n\r\n', at)) {
          at = i + 4
          n++
        }
        tail = text.slice(at)
        if (n > 0) socket.write(n === 1 ? response : Buffer.concat(Array(n).fill(response)))
      })
      socket.on('error', () => {})
    })
    .listen(port, '127.0.0.1')
}

async function runGateway(routes: number, port: number, originPort: number): Promise<void> {
  const { createGateway } = await import('../src/index.ts')
  const gw = await createGateway({
    listen: [{ address: `127.0.0.1:${port}` }],
    upstreams: { origin: { targets: [{ url: `http://127.0.0.1:${originPort}` }] } },
    routes: routes === 1 ? smallTable('origin') : bigTable('origin'),
    limits: { maxRequestsPerConnection: 1_000_000 },
    accessLog: { enabled: false },
  })
  await gw.listen()
  process.on('message', () => {
    const u = process.cpuUsage()
    process.send!(u.user + u.system)
  })
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    origin: { type: 'boolean' },
    gateway: { type: 'boolean' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    'skip-e2e': { type: 'boolean' },
  },
})
if (values.origin) runOrigin(Number(positionals[0]))
else if (values.gateway)
  await runGateway(Number(positionals[0]), Number(positionals[1]), Number(positionals[2]))
else {
  const e2e = values['skip-e2e'] ? 0 : Number(values.rounds) * 2 * (Number(values.seconds) + 3)
  console.log(
    `bench/routing.ts: match cost (under a minute)${e2e ? `, then end to end (about ${e2e} s)` : ''}; ` +
      '--skip-e2e, --rounds N and --seconds N shorten it',
  )
  const extra = matchCost()
  if (!values['skip-e2e']) await endToEnd(Number(values.seconds), Number(values.rounds), extra)
}
