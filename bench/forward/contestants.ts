/**
 * Forward proxies and TLS interceptors side by side (issue 12): each
 * contestant alone on one core, the load client (bench/forward/connect-load.ts)
 * and the origin (bench/forward/origin.ts) on the other, keep-alive small GETs.
 *
 *   mitm       CONNECT + TLS (intercepted: the proxy terminates TLS with a
 *              leaf of its CA and opens its own TLS to the origin)
 *   absolute   plain forward proxying, `GET http://host:port/small`
 *
 * Contestants: `direct` (a second origin on the contestant core: the
 * client's ceiling, which must be above every proxy), `portcullis`,
 * `http-mitm-proxy`, `node-mitmproxy`, `mitmdump` (mitmproxy, when
 * installed). Each round runs every scenario on every contestant in turn,
 * so the ratios compare figures taken seconds apart. Prints the median
 * requests/s per contestant and Portcullis's ratio to each, and the same
 * for requests per CPU-second of the contestant's process (its user +
 * system time over the client's run, /proc/PID/stat): the client and the
 * origin share the other core, and when together they cannot keep a fast
 * contestant busy its requests/s is the load core's limit, not its own;
 * requests per CPU-second is what one core of it can do.
 *
 * Usage: node bench/forward/contestants.ts [--rounds 3] [--seconds 3]
 *        [--connections 50] [--only portcullis,mitmdump,...] [--priority]
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { PORTCULLIS_NODE_FLAGS } from '../../src/cli/node-flags.ts'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { makeSelfSigned } from '../../test/fixtures/self-signed.ts'
import { choosePlacement } from '../lib/machine.ts'
import {
  freePort,
  hasTool,
  installCleanup,
  type Managed,
  pinSelf,
  runToCompletion,
  sleep,
  spawnManaged,
  stopAll,
  usePriority,
} from '../lib/processes.ts'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string' },
    priority: { type: 'boolean', default: false },
  },
})
const ROUNDS = Number(values.rounds)
const SECONDS = Number(values.seconds)
const C = Number(values.connections)
const NODE = process.execPath
const HERE = import.meta.dirname

interface Contestant {
  id: string
  /** Scenarios it takes part in. */
  scenarios: Scenario[]
  start(port: number, dir: string): Managed
}
type Scenario = 'mitm' | 'absolute'

const placement = choosePlacement()
const dir = await mkdtemp(join(tmpdir(), 'portcullis-bench-forward-'))
installCleanup(() => {})
pinSelf(placement.loadCpu)
// As `npm run bench -- --priority`: nice -10 for the harness and all it starts, against other load on the machine.
if (values.priority) usePriority(-10)
const cert = await makeSelfSigned(dir)
await createCa(join(dir, 'portcullis-ca'))

const contestants: Contestant[] = [
  {
    id: 'direct',
    scenarios: ['mitm', 'absolute'],
    start: (port) =>
      spawnManaged(
        'direct',
        NODE,
        [join(HERE, 'origin.ts'), cert.certPath, cert.keyPath, String(port), '0'],
        {
          cpu: placement.contestantCpu,
        },
      ),
  },
  {
    id: 'portcullis',
    scenarios: ['mitm', 'absolute'],
    start: (port, d) =>
      spawnManaged(
        'portcullis',
        NODE,
        [
          ...nodeFlags(),
          join(HERE, 'servers/portcullis-mitm.ts'),
          String(port),
          join(d, 'portcullis-ca'),
          cert.certPath,
        ],
        { cpu: placement.contestantCpu },
      ),
  },
  {
    id: 'http-mitm-proxy',
    scenarios: ['mitm', 'absolute'],
    start: (port, d) =>
      spawnManaged(
        'http-mitm-proxy',
        NODE,
        [join(HERE, 'servers/http-mitm-proxy.ts'), String(port), join(d, 'hmp-ca'), cert.certPath],
        { cpu: placement.contestantCpu },
      ),
  },
  {
    id: 'node-mitmproxy',
    scenarios: ['mitm', 'absolute'],
    start: (port, d) =>
      spawnManaged(
        'node-mitmproxy',
        NODE,
        [join(HERE, 'servers/node-mitmproxy.ts'), String(port), join(d, 'nm-ca')],
        {
          cpu: placement.contestantCpu,
        },
      ),
  },
]
if (hasTool('mitmdump'))
  contestants.push({
    id: 'mitmdump',
    scenarios: ['mitm', 'absolute'],
    start: (port, d) =>
      spawnManaged(
        'mitmdump',
        'mitmdump',
        [
          '--listen-host',
          '127.0.0.1',
          '--listen-port',
          String(port),
          '--set',
          `confdir=${join(d, 'mitmproxy')}`,
          '--set',
          `ssl_verify_upstream_trusted_ca=${cert.certPath}`,
          '--set',
          'flow_detail=0',
          '-q',
        ],
        { cpu: placement.contestantCpu },
      ),
  })
else console.log('mitmdump not installed (apt-get install -y mitmproxy): skipped')

/** The same flags the bin and `npm start` use. */
function nodeFlags(): string[] {
  return [...PORTCULLIS_NODE_FLAGS]
}

const pids = new Map<string, number>()
const managed = new Map<string, Managed>()
const only = values.only?.split(',')
const chosen = contestants.filter((c) => only === undefined || c.id === 'direct' || only.includes(c.id))

try {
  const origin = spawnManaged('origin', NODE, [join(HERE, 'origin.ts'), cert.certPath, cert.keyPath], {
    cpu: placement.loadCpu,
  })
  const [tlsPort, plainPort] = await portsOf(origin)
  const ports = new Map<string, number>()
  for (const c of chosen) {
    const port = await freePort()
    ports.set(c.id, port)
    const p = c.start(port, dir)
    pids.set(c.id, p.pid)
    managed.set(c.id, p)
    await listening(port, p, 30_000)
  }
  // Warm-up: each proxy's first connections (CA loading, JIT) are not measured.
  for (const c of chosen) if (c.id !== 'direct') await load('mitm', c, ports, tlsPort!, plainPort!, 1, 0)
  const results = new Map<string, number[]>()
  const perCpu = new Map<string, number[]>()
  const errors = new Map<string, number>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of ['mitm', 'absolute'] as const) {
      for (const c of chosen) {
        if (!c.scenarios.includes(scenario)) continue
        const r = await load(scenario, c, ports, tlsPort!, plainPort!, SECONDS, 1)
        const key = `${scenario} ${c.id}`
        results.set(key, [...(results.get(key) ?? []), r.rps])
        perCpu.set(key, [...(perCpu.get(key) ?? []), r.perCpuSecond])
        errors.set(key, (errors.get(key) ?? 0) + r.errors)
        console.log(
          `round ${round + 1} ${key.padEnd(28)} ${String(r.rps).padStart(7)} req/s  errors ${r.errors}`,
        )
      }
    }
  }
  report('requests/s', results, errors)
  report('requests per CPU-second of the contestant', perCpu, errors)
} finally {
  await stopAll(1000)
  await rm(dir, { recursive: true, force: true })
}

async function load(
  scenario: Scenario,
  c: Contestant,
  ports: Map<string, number>,
  tlsPort: number,
  plainPort: number,
  seconds: number,
  warm: number,
): Promise<{ rps: number; errors: number; perCpuSecond: number; busy: number }> {
  const direct = c.id === 'direct'
  const mode = direct ? (scenario === 'mitm' ? 'direct-tls' : 'direct-plain') : scenario
  // `direct` is an origin on the contestant core: its TLS port is the one it was started on; plain is not used.
  const targetPort = direct ? ports.get('direct')! : scenario === 'mitm' ? tlsPort : plainPort
  if (direct && scenario === 'absolute') return { rps: 0, errors: 0, perCpuSecond: 0, busy: 0 }
  const cpu0 = cpuSeconds(pids.get(c.id)!)
  const t0 = performance.now()
  const r = await runToCompletion(
    `client ${c.id}`,
    NODE,
    [
      join(HERE, 'connect-load.ts'),
      mode,
      String(ports.get(c.id)),
      'localhost',
      String(targetPort),
      String(C),
      String(seconds),
      String(warm),
    ],
    { cpu: placement.loadCpu, timeoutMs: (seconds + warm + 15) * 1000 },
  )
  const cpu = cpuSeconds(pids.get(c.id)!) - cpu0
  const m = managed.get(c.id)
  if (m?.hasExited()) console.log(`${c.id} is gone: ${m.stderrTail().slice(-400)}`)
  else if (m !== undefined && r.stdout.includes('"errors":0') === false)
    console.log(`${c.id} ${scenario}: errors; its stderr ends: ${m.stderrTail().slice(-300)}`)
  const wall = (performance.now() - t0) / 1000
  const line = r.stdout.trim().split('\n').pop() ?? ''
  try {
    const parsed = JSON.parse(line) as { rps: number; errors: number; all: number }
    const perCpuSecond = cpu > 0 ? Math.round(parsed.all / cpu) : 0
    return { rps: parsed.rps, errors: parsed.errors, perCpuSecond, busy: Math.round((100 * cpu) / wall) }
  } catch {
    console.log(
      `${c.id} ${scenario}: no result (${r.timedOut ? 'timed out' : `exit ${r.code}`}) ${r.stderr.slice(-300)}`,
    )
    return { rps: 0, errors: -1, perCpuSecond: 0, busy: 0 }
  }
}

/** cpuSeconds: user + system time of a process so far (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

function report(what: string, results: Map<string, number[]>, errors: Map<string, number>): void {
  // Medians of an even count take the upper middle (the same rule for every contestant).
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  console.log(
    `\n${what}: median of ${ROUNDS} rounds, ${SECONDS} s each, ${C} keep-alive connections, small GETs`,
  )
  for (const scenario of ['mitm', 'absolute'] as const) {
    const ours = results.get(`${scenario} portcullis`)
    for (const c of chosen) {
      const xs = results.get(`${scenario} ${c.id}`)
      if (xs === undefined || (c.id === 'direct' && scenario === 'absolute')) continue
      const m = median(xs)
      // The ratio of medians and the median of the per-round ratios (same-round pairs).
      const perRound =
        ours === undefined || c.id === 'portcullis'
          ? ''
          : `  portcullis/${c.id}: ${(median(ours) / m).toFixed(2)}x (per-round median ${median(
              ours.map((o, i) => o / xs[i]!),
            ).toFixed(2)}x)`
      console.log(
        `${scenario.padEnd(9)} ${c.id.padEnd(16)} ${String(m).padStart(7)} req/s  rounds ${xs.join(', ')}  errors ${errors.get(`${scenario} ${c.id}`)}${perRound}`,
      )
    }
  }
}

/** portsOf reads `PORTS <tls> <plain>` from the origin's output. */
async function portsOf(p: Managed): Promise<number[]> {
  for (let i = 0; i < 200; i++) {
    const m = /PORTS (\d+) (\d+)/.exec(p.stdout())
    if (m) return [Number(m[1]), Number(m[2])]
    if (p.hasExited()) break
    await sleep(50)
  }
  throw new Error(`origin did not start: ${p.stderrTail()}`)
}

/** listening waits until the port accepts a connection. */
async function listening(port: number, p: Managed, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (p.hasExited()) throw new Error(`${p.name} exited at start: ${p.stderrTail()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await sleep(100)
  }
  throw new Error(`${p.name} not listening on ${port} after ${timeoutMs} ms: ${p.stderrTail()}`)
}
