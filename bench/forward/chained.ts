/**
 * The cost of chained interception (issue 12, `forward.chain` + mitm): an
 * intercepted host reached through a parent HTTP proxy has its upstream TLS
 * run over a tunnel through the parent (on the tunnel's own socket since
 * `Endpoint.openVia`; over a JavaScript stream before, 1.36x the CPU per
 * request). Two Portcullis processes on the contestant core, the same
 * but for one `chain` rule: `direct` intercepts and opens its TLS straight
 * to the origin, `chained` opens it through a parent (a minimal CONNECT pipe,
 * this file's `parent` role, on the load core with the origin and the
 * client). The load is bench/forward/connect-load.ts `mitm`: C keep-alive
 * connections, CONNECT + TLS to `localhost:ORIGIN`, small GETs. Rounds
 * alternate which goes first; each run is bounded (S seconds plus a second
 * of warm-up). Prints requests/s and requests per CPU-second of each
 * gateway process (user + system, /proc/PID/stat, over the client's run),
 * and the chained/direct ratio (median of same-round ratios).
 *
 * Usage: node bench/forward/chained.ts [--rounds 5] [--seconds 3]
 *        [--connections 20] [--prof DIR] [--priority]
 * `--prof DIR` runs both gateways with --cpu-prof (DIR/direct, DIR/chained).
 * Roles it starts itself: `chained.ts gateway PORT CA_DIR ORIGIN_CA [PARENT_PORT]`
 * and `chained.ts parent PORT`.
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { PORTCULLIS_NODE_FLAGS } from '../../src/cli/node-flags.ts'

const role = process.argv[2]
if (role === 'gateway') await gateway(process.argv.slice(3))
else if (role === 'parent') await parent(Number(process.argv[3]))
else await harness()

/** gateway: an intercepting forward proxy; with PARENT_PORT, `localhost` is chained through it. */
async function gateway([port, caDir, upstreamCa, parentPort]: string[]): Promise<void> {
  const { createGateway } = await import('../../src/index.ts')
  const gw = await createGateway({
    listen: [],
    limits: { maxRequestsPerConnection: 1_000_000_000 },
    forward: {
      address: { host: '127.0.0.1', port: Number(port) },
      allow: ['127.0.0.1', 'localhost'],
      mitm: { caDir: caDir!, hosts: ['*'], upstreamCa: upstreamCa! },
      ...(parentPort === undefined
        ? {}
        : { chain: [{ match: ['localhost'], proxy: `http://127.0.0.1:${parentPort}` }] }),
    },
  })
  await gw.listen()
  // A clean exit, so that --cpu-prof writes its profile.
  process.on('SIGTERM', () => process.exit(0))
}

/** parent: the least a CONNECT proxy does: read the head, connect to 127.0.0.1:PORT, answer 200, pipe. */
async function parent(port: number): Promise<void> {
  const server = net.createServer((client) => {
    client.setNoDelay(true)
    client.on('error', () => {})
    let head = ''
    client.on('data', function onHead(d: Buffer) {
      head += d.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      client.off('data', onHead)
      client.pause()
      const target = head.slice(0, head.indexOf('\r\n')).split(' ')[1] ?? ''
      const up = net.connect(Number(target.slice(target.lastIndexOf(':') + 1)), '127.0.0.1', () => {
        up.setNoDelay(true)
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        const rest = head.slice(end + 4)
        if (rest !== '') up.write(Buffer.from(rest, 'latin1'))
        client.pipe(up).pipe(client)
        client.resume()
      })
      up.on('error', () => client.destroy())
      up.on('close', () => client.destroy())
      client.on('close', () => up.destroy())
    })
  })
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
  process.on('SIGTERM', () => process.exit(0))
}

async function harness(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '20' },
      prof: { type: 'string' },
      priority: { type: 'boolean', default: false },
    },
  })
  const ROUNDS = Number(values.rounds)
  const SECONDS = Number(values.seconds)
  const C = Number(values.connections)
  const NODE = process.execPath
  const HERE = import.meta.dirname
  const SELF = join(HERE, 'chained.ts')
  const { makeSelfSigned } = await import('../../test/fixtures/self-signed.ts')
  const { createCa } = await import('../../src/forward/mitm/ca.ts')
  const { choosePlacement } = await import('../lib/machine.ts')
  const p = await import('../lib/processes.ts')

  const placement = choosePlacement()
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-bench-chained-'))
  p.installCleanup(() => {})
  p.pinSelf(placement.loadCpu)
  // As contestants.ts --priority: nice -10 for the harness and all it starts, against other load.
  if (values.priority) p.usePriority(-10)
  const cert = await makeSelfSigned(dir)
  await createCa(join(dir, 'ca'))
  const ids = ['direct', 'chained'] as const
  try {
    const origin = p.spawnManaged('origin', NODE, [join(HERE, 'origin.ts'), cert.certPath, cert.keyPath], {
      cpu: placement.loadCpu,
    })
    const tlsPort = await originPort(origin)
    const parentPort = await p.freePort()
    const parentProc = p.spawnManaged('parent', NODE, [SELF, 'parent', String(parentPort)], {
      cpu: placement.loadCpu,
    })
    await listening(parentPort, parentProc)
    const ports = new Map<string, number>()
    const procs = new Map<string, { pid: number }>()
    for (const id of ids) {
      const port = await p.freePort()
      const prof = values.prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(values.prof, id)}`]
      const args = [SELF, 'gateway', String(port), join(dir, 'ca'), cert.certPath]
      if (id === 'chained') args.push(String(parentPort))
      const g = p.spawnManaged(id, NODE, [...PORTCULLIS_NODE_FLAGS, ...prof, ...args], {
        cpu: placement.contestantCpu,
      })
      await listening(port, g)
      ports.set(id, port)
      procs.set(id, g)
    }

    /** run: one bounded client run against a gateway; requests/s and requests per CPU-second of it. */
    const run = async (id: string, seconds: number, warm: number) => {
      const pid = procs.get(id)!.pid
      const cpu0 = cpuSeconds(pid)
      const args = [join(HERE, 'connect-load.ts'), 'mitm', String(ports.get(id)), 'localhost']
      args.push(String(tlsPort), String(C), String(seconds), String(warm))
      const r = await p.runToCompletion(`client ${id}`, NODE, args, {
        cpu: placement.loadCpu,
        timeoutMs: (seconds + warm + 15) * 1000,
      })
      const cpu = cpuSeconds(pid) - cpu0
      const res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
        rps: number
        errors: number
        all: number
      }
      const t = totals.get(id) ?? { requests: 0, cpu: 0 }
      totals.set(id, { requests: t.requests + (res.all ?? 0), cpu: t.cpu + cpu })
      return { rps: res.rps, errors: res.errors, perCpu: cpu > 0 ? Math.round(res.all / cpu) : 0 }
    }
    /** Responses and gateway CPU seconds over every run, warm-up included (what a --prof profile covers). */
    const totals = new Map<string, { requests: number; cpu: number }>()

    for (const id of ids) await run(id, 2, 0) // warm-up: leaf made, JIT warm
    const rows = new Map<string, { rps: number; perCpu: number; errors: number }[]>()
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ids : [...ids].reverse()
      for (const id of order) {
        const r = await run(id, SECONDS, 1)
        rows.set(id, [...(rows.get(id) ?? []), r])
        console.log(
          `round ${round + 1} ${id.padEnd(8)} ${String(r.rps).padStart(6)} req/s ${String(r.perCpu).padStart(6)} req/CPU-s  errors ${r.errors}`,
        )
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    console.log(
      `\nmedian of ${ROUNDS} rounds, ${SECONDS} s each, ${C} keep-alive connections, intercepted small GETs`,
    )
    for (const id of ids) {
      const xs = rows.get(id)!
      console.log(
        `${id.padEnd(8)} ${String(median(xs.map((x) => x.rps))).padStart(6)} req/s ${String(median(xs.map((x) => x.perCpu))).padStart(6)} req/CPU-s  per round ${xs.map((x) => x.perCpu).join(', ')}`,
      )
      const t = totals.get(id)!
      console.log(
        `${id.padEnd(8)} all runs: ${t.requests} responses, ${t.cpu.toFixed(2)} CPU-s, ${((1e6 * t.cpu) / t.requests).toFixed(1)} µs CPU per response`,
      )
    }
    const d = rows.get('direct')!
    const c = rows.get('chained')!
    const ratio = median(c.map((x, i) => x.perCpu / d[i]!.perCpu))
    console.log(
      `chained/direct requests per CPU-second: ${ratio.toFixed(3)} (median of same-round ratios; CPU per request ${(1 / ratio).toFixed(3)}x)`,
    )
  } finally {
    await p.stopAll(3000)
    await rm(dir, { recursive: true, force: true })
  }

  async function originPort(o: import('../lib/processes.ts').Managed): Promise<number> {
    for (let i = 0; i < 200; i++) {
      const m = /PORTS (\d+) (\d+)/.exec(o.stdout())
      if (m) return Number(m[1])
      if (o.hasExited()) break
      await p.sleep(50)
    }
    throw new Error(`origin did not start: ${o.stderrTail()}`)
  }

  async function listening(port: number, m: import('../lib/processes.ts').Managed): Promise<void> {
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      if (m.hasExited()) throw new Error(`${m.name} exited at start: ${m.stderrTail()}`)
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1')
        s.once('connect', () => (s.destroy(), resolve(true)))
        s.once('error', () => resolve(false))
      })
      if (ok) return
      await p.sleep(100)
    }
    throw new Error(`${m.name} not listening on ${port}: ${m.stderrTail()}`)
  }
}

/** cpuSeconds: user + system time of a process so far (/proc/PID/stat fields 14 and 15, 1/100 s ticks). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}
