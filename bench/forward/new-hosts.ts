/**
 * How long a request to a new intercepted host takes, and a cached host's
 * handshake (issue 12's goals: a new host under 10 ms at p99 while 100
 * other new hosts are being generated; a cached host's handshake under
 * 2 ms). The gateway (bench/forward/servers/portcullis-mitm.ts) runs alone
 * on one core; this client and the origin on the other.
 *
 *   new host   per round: BURST raw CONNECTs to new hosts (127.x.y.z
 *              literals, so each is a new leaf; they send no ClientHello,
 *              so `connectionStrategy: eager` opens no upstream connection
 *              for them), sent together; then PROBES timed requests to other new hosts,
 *              one after the other:
 *              CONNECT, 200, TLS handshake (verified against the CA), one
 *              GET and its answer (a new upstream TLS connection included).
 *              Odd rounds start the probes once the burst's CONNECTs are
 *              written (the gateway is still accepting them: the probe's
 *              connection waits behind theirs in the accept queue), even
 *              rounds once all were answered (the gateway answers before
 *              making a leaf, so their 100 leaves are then being made). A
 *              probe is timed from its own start; in the first kind also
 *              from the burst's (which adds this client's own work of
 *              opening BURST connections, ~5-10 ms in Node). Then the
 *              sockets close and the next round waits 300 ms. With curl,
 *              every other pair of rounds probes through a plain CONNECT
 *              tunnel instead (mitm.passthrough: the client's TLS straight
 *              to the origin): the floor of a new host under the same
 *              burst without interception. The gateway's CPU per new host
 *              over all rounds is printed too.
 *   cached     sequential CONNECT + TLS handshakes to one host whose leaf
 *              is made: full handshakes, then handshakes resuming the
 *              previous TLS session (what a browser does on its next
 *              connection); beside them, for reference, the same client's
 *              TCP connect + TLS handshake straight to the origin (no proxy:
 *              what this machine's loopback, scheduler and TLS cost anyway).
 *
 * The timing client is curl (bench/forward/curl-timer.ts: native TLS, one
 * warm process, each probe let go by a local gate at its moment, curl's own
 * --write-out times), where curl is installed: Node's TLS client costs the
 * client ~0.5-1 ms of JavaScript per handshake, in every figure it times.
 * CLIENT=node: this process's Node TLS client for the probes (the cached
 * figures are printed for both clients either way).
 *
 * The Node client offers ALPN http/1.1 (browsers and curl always offer ALPN).
 * The client verifies with one TLS context made once (as a browser keeps one
 * trust store), not one per connection: Node's tls.connect({ ca }) makes a
 * new context each time, ~0.3 ms of the client's own work in every figure.
 *   idle       on a gateway started for it (see below), IDLE intercepted
 *              connections to IDLE distinct hosts (each
 *              CONNECT + TLS + one GET, then idle): the gateway's RSS and
 *              descriptors with them open (its own /proc, not the client's),
 *              its listening sockets, and its descriptors once they closed
 *              and the upstream pools' idle connections aged out (4 s).
 *              Then the same on another fresh gateway with all IDLE
 *              connections to one host: what a connection costs beyond its
 *              host's leaf, upstream pool and upstream connection.
 *
 * Each origin address presents a certificate of its own, naming it (as
 * distinct hosts do; see origin.ts), signed by an origin CA that the gateway
 * trusts through NODE_EXTRA_CA_CERTS (the system store, as for a public
 * origin), not forward.mitm.upstreamCa: Node copies the whole root store
 * into every context given a `ca`, which on this path would be the cost of
 * each new upstream connection. (Until 2026-12-07 one certificate named all
 * ~600 addresses: verifying it cost the gateway 0.3-0.8 ms per upstream
 * handshake, and the probe ~1-2 ms, that no real origin costs.)
 *
 * Usage: node bench/forward/new-hosts.ts [ROUNDS=600] [BURST=100] [PROBES=1] [CACHED=300] [IDLE=500]
 * (PRIORITY=1 in the environment: nice -10 for all of it.)
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { PORTCULLIS_NODE_FLAGS } from '../../src/cli/node-flags.ts'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { choosePlacement } from '../lib/machine.ts'
import { CurlGated, type CurlTimes, curlRun, hasCurl } from './curl-timer.ts'
import {
  freePort,
  installCleanup,
  pinSelf,
  sleep,
  spawnManaged,
  stop,
  stopAll,
  usePriority,
} from '../lib/processes.ts'

const [ROUNDS = 600, BURST = 100, PROBES = 1, CACHED = 300, IDLE = 500] = process.argv.slice(2).map(Number)
const HERE = import.meta.dirname
const useCurl = process.env.CLIENT !== 'node' && (await hasCurl())
/** ALPN's wire form (RFC 7301 §3.1), made once. */
const ALPN = Buffer.from('\x08http/1.1', 'latin1')
const placement = choosePlacement()
installCleanup(() => {})
pinSelf(placement.loadCpu)
// PRIORITY=1: nice -10 for this client and all it starts (as `npm run bench -- --priority`).
if (process.env.PRIORITY === '1') usePriority(-10)
/** When each probe's steps ended, ms after it began. */
const phases = { connect: [] as number[], tls: [] as number[] }
const dir = await mkdtemp(join(tmpdir(), 'portcullis-bench-newhost-'))

/** Where each kind of host is: probes in 127.200/16, idle hosts in 127.201/16, tunnelled probes in 127.202/16 (the origin has a certificate for each). */
const NET = { probe: 200, idle: 201, tunnel: 202 }
/** host n: a distinct loopback literal. */
const hostOf = (n: number, kind: 'burst' | 'probe' | 'idle' | 'tunnel') =>
  `127.${kind === 'burst' ? 1 + ((n >> 16) & 127) : NET[kind]}.${(n >> 8) & 255}.${n & 255 || 1}`
/** Round r's probes go through a tunnel (mitm.passthrough: not intercepted), with curl, every other pair of rounds. */
const tunnelled = (r: number) => useCurl && (r >> 1) % 2 === 1

try {
  // Every address the probes and idle connections use has its certificate made before the origin listens.
  const addresses = [
    ...Array.from({ length: ROUNDS * PROBES }, (_, i) => hostOf(i + 1, 'probe')),
    ...Array.from({ length: ROUNDS * PROBES }, (_, i) => hostOf(i + 1, 'tunnel')),
    ...Array.from({ length: IDLE }, (_, i) => hostOf(i + 1, 'idle')),
  ]
  await writeFile(join(dir, 'addresses'), addresses.join('\n'))
  await createCa(join(dir, 'origin-ca'))
  const originCaPath = join(dir, 'origin-ca', 'ca.pem')
  await createCa(join(dir, 'ca'))
  const caPem = await readFile(join(dir, 'ca', 'ca.pem'), 'latin1')
  const ca = tls.createSecureContext({ ca: caPem })
  const origin = spawnManaged(
    'origin',
    process.execPath,
    [join(HERE, 'origin.ts'), '-', '-', '0', '0', '0.0.0.0'],
    {
      cpu: placement.loadCpu,
      env: {
        ...process.env,
        ORIGIN_CA_DIR: join(dir, 'origin-ca'),
        ORIGIN_ADDRESSES: join(dir, 'addresses'),
      },
    },
  )
  let ports: RegExpExecArray | null = null
  for (let i = 0; i < 600 && !(ports = /PORTS (\d+)/.exec(origin.stdout())); i++) await sleep(50)
  const originPort = Number(ports![1])
  const startGateway = async () => {
    const port = await freePort()
    const managed = spawnManaged(
      'portcullis',
      process.execPath,
      [
        ...PORTCULLIS_NODE_FLAGS,
        // GATEWAY_FLAGS: more flags for the gateway's node (e.g. `--cpu-prof --cpu-prof-dir=DIR`).
        ...(process.env.GATEWAY_FLAGS?.split(' ').filter(Boolean) ?? []),
        join(HERE, 'servers/portcullis-mitm.ts'),
        String(port),
        join(dir, 'ca'),
        '-',
        '127.0.0.0/8',
      ],
      {
        cpu: placement.contestantCpu,
        env: { ...process.env, NODE_EXTRA_CA_CERTS: originCaPath, PASSTHROUGH: `127.${NET.tunnel}.0.0/16` },
      },
    )
    await listening(port)
    // Warm-up: the gateway's code paths, its spare TLS contexts made.
    await request(port, '127.0.0.1', originPort, ca)
    await sleep(1000)
    return { managed, port }
  }
  const gateway = await startGateway()
  const proxyPort = gateway.port

  // The probes' client: curl (CLIENT=node: this process's Node TLS client).
  // Tunnelled, the client verifies the origin itself.
  let [pi, ti] = [0, 0]
  const probeUrls = Array.from({ length: ROUNDS }, (_, r) =>
    Array.from({ length: PROBES }, () => ({
      url: `https://${tunnelled(r) ? hostOf(++ti, 'tunnel') : hostOf(++pi, 'probe')}:${originPort}/small`,
      proxy: `http://127.0.0.1:${proxyPort}`,
      cacert: tunnelled(r) ? originCaPath : join(dir, 'ca', 'ca.pem'),
    })),
  ).flat()
  const curl = useCurl ? await CurlGated.start(probeUrls, join(dir, 'probes.curl')) : undefined
  const probes: number[] = []
  const sinceBurst: number[] = []
  const probesAnswered: number[] = []
  const tunnel = { written: [] as number[], answered: [] as number[] }
  const bursts: number[] = []
  let n = 0
  let p = 0
  const cpu0 = cpuMs(gateway.managed.pid)
  for (let r = 0; r < ROUNDS; r++) {
    // Rounds alternate: probes start once the burst's CONNECTs are written
    // (the gateway still accepting them), or once all were answered (every
    // connection accepted; their leaves are being made, newest first).
    const answered = r % 2 === 1
    const t0 = performance.now()
    const written: Promise<void>[] = []
    const burst = Array.from({ length: BURST }, () =>
      connectOnly(proxyPort, hostOf(++n, 'burst'), originPort, written),
    )
    await Promise.all(answered ? burst : written)
    // One probe at a time: concurrent probes would each wait for the
    // others' handshakes too (each a full TLS handshake on both legs, which
    // the burst's silent connections never cost), not only for the burst.
    for (let i = 0; i < PROBES; i++) {
      ;(tunnelled(r) ? tunnel[answered ? 'answered' : 'written'] : answered ? probesAnswered : probes).push(
        curl === undefined
          ? await request(proxyPort, hostOf(++p, 'probe'), originPort, ca)
          : probeTimes(await curl.go(), !tunnelled(r)),
      )
      if (!answered && !tunnelled(r)) sinceBurst.push(performance.now() - t0)
    }
    const sockets = await Promise.all(burst)
    if (!answered) bursts.push(performance.now() - t0)
    for (const s of sockets) s.destroy()
    await sleep(300)
  }
  const hosts = ROUNDS * (BURST + PROBES)
  const perHost = (cpuMs(gateway.managed.pid) - cpu0) / hosts
  await curl?.close()
  console.log(
    `new host    ${ROUNDS} rounds of ${BURST} new hosts + ${PROBES} probes (client: ${useCurl ? 'curl' : 'node'}): probe request (CONNECT + TLS + GET, new upstream) started once the burst was written ${stats(probes)}, timed from the burst's start ${stats(sinceBurst)}; started once the burst was answered (its leaves being made) ${stats(probesAnswered)}; the burst's ${BURST} CONNECT 200s took ${stats(bursts)}; ${useCurl ? '' : `the probe's 200 came at ${stats(phases.connect)}, `}its handshake ended at ${stats(phases.tls)}`,
  )
  console.log(
    `gateway CPU ${perHost.toFixed(3)} ms per new host over the rounds (${hosts} hosts: the bursts' CONNECTs, their leaves, the probes' whole requests)`,
  )
  if (useCurl)
    console.log(
      `tunnel      the same probes through a CONNECT tunnel (mitm.passthrough: not intercepted; the client's TLS straight to the origin, one handshake instead of two), in rounds between them: started once the burst was written ${stats(tunnel.written)}; once it was answered ${stats(tunnel.answered)}`,
    )

  if (useCurl) {
    // curl: each transfer a new connection (Connection: close), sessions resumed or not.
    // Straight to the origin, each to an address of its own: the origin keeps connections open, and curl
    // reuses an open one whatever it is told (`fresh-connect` has no effect between `next` transfers).
    const cached = (resume: boolean, proxied = true) =>
      Array.from({ length: proxied ? CACHED : Math.min(CACHED, ROUNDS * PROBES) }, (_, i) => ({
        url: `https://${proxied ? '127.0.0.1' : hostOf(i + 1, 'probe')}:${originPort}/small`,
        cacert: proxied ? join(dir, 'ca', 'ca.pem') : originCaPath,
        resume,
        ...(proxied ? { proxy: `http://127.0.0.1:${proxyPort}` } : {}),
      }))
    const config = join(dir, 'cached.curl')
    const full = (await curlRun(cached(false), config)).map((t) => t.tls)
    const resumed = (await curlRun(cached(true), config)).map((t) => t.tls).slice(1)
    const direct = (await curlRun(cached(false, false), config)).map((t) => t.tls)
    console.log(
      `cached host (curl) CONNECT + 200 + TLS handshake, client included: full ${stats(full)}; resumed ${stats(resumed)}; reference, TCP connect + TLS handshake straight to the origin: ${stats(direct)}`,
    )
  }
  const full: number[] = []
  const resumed: number[] = []
  let session: Buffer | undefined
  for (let i = 0; i < CACHED; i++) full.push((await handshake(proxyPort, '127.0.0.1', originPort, ca)).ms)
  for (let i = 0; i < CACHED; i++) {
    const h = await handshake(proxyPort, '127.0.0.1', originPort, ca, session)
    session = h.session ?? session
    if (i > 0) resumed.push(h.ms)
  }
  // The origin CA is in the gateway's system store (NODE_EXTRA_CA_CERTS is not set here): its own context.
  const originCa = tls.createSecureContext({ ca: await readFile(originCaPath, 'latin1') })
  const direct: number[] = []
  for (let i = 0; i < CACHED; i++) direct.push(await directHandshake(originPort, originCa))
  console.log(
    `cached host (node) CONNECT + 200 + TLS handshake, client included: full ${stats(full)}; resumed ${stats(resumed)}; reference, TCP connect + TLS handshake straight to the origin: ${stats(direct)}`,
  )
  // Memory per connection on a gateway of its own: the phases before leave
  // thousands of leaves and pools for the garbage collector to free, which
  // would hide what the idle connections hold.
  await stop(gateway.managed)
  const fresh = await startGateway()
  await idle(fresh.managed.pid, fresh.port, originPort, ca, 'distinct')
  await stop(fresh.managed)
  // The same on one host: what a connection costs beyond its host's leaf and pool.
  const oneHost = await startGateway()
  await idle(oneHost.managed.pid, oneHost.port, originPort, ca, 'one')
} finally {
  await stopAll(1000)
  await rm(dir, { recursive: true, force: true })
}

/** idle: IDLE intercepted connections (to as many new hosts, or all to one), the gateway's memory and descriptors with them and after. */
async function idle(
  pid: number,
  proxyPort: number,
  originPort: number,
  ca: tls.SecureContext,
  hosts: 'distinct' | 'one',
): Promise<void> {
  await sleep(5000) // the upstream pools' idle connections from the phases before age out
  const fd0 = fds(pid)
  const listen0 = listeners(pid)
  const rss0 = rss(pid)
  const open: tls.TLSSocket[] = []
  for (let i = 0; i < IDLE; i += 50) {
    const batch = Array.from({ length: Math.min(50, IDLE - i) }, (_, k) =>
      requestKeepOpen(proxyPort, hosts === 'one' ? '127.0.0.1' : hostOf(i + k + 1, 'idle'), originPort, ca),
    )
    open.push(...(await Promise.all(batch)))
  }
  await sleep(500)
  const fd1 = fds(pid)
  const rss1 = rss(pid)
  const listen1 = listeners(pid)
  for (const s of open) s.destroy()
  await sleep(5500) // closed clients, then the upstream connections' idle timeout (4 s)
  console.log(
    `idle        ${IDLE} intercepted connections to ${hosts === 'one' ? 'one host (its leaf made once, its upstream connections pooled)' : `${IDLE} distinct hosts (a new leaf and upstream connection each)`}: gateway RSS +${((rss1 - rss0) / IDLE / 1024).toFixed(1)} KiB per connection; descriptors ${fd0} -> ${fd1} -> ${fds(pid)} after closing; listening sockets ${listen0} -> ${listen1} -> ${listeners(pid)}`,
  )
}

/** cpuMs: the CPU time `pid` has used (user + system), from /proc at 100 ticks a second. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}

function fds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
  return Number(m![1]) * 1024
}

/** listeners: TCP sockets of `pid` in LISTEN state (ss). */
function listeners(pid: number): number {
  const out = execFileSync('ss', ['-ltnp'], { encoding: 'latin1' })
  return out.split('\n').filter((l) => l.includes(`pid=${pid},`)).length
}

/** requestKeepOpen: CONNECT + TLS + one GET, the connection left open. */
function requestKeepOpen(
  proxyPort: number,
  host: string,
  port: number,
  ca: tls.SecureContext,
): Promise<tls.TLSSocket> {
  return connectOnly(proxyPort, host, port).then(
    (raw) =>
      new Promise((resolve, reject) => {
        const s = tls.connect({ socket: raw, secureContext: ca, host, ALPNProtocols: ALPN })
        s.once('secureConnect', () => s.write(`GET /small HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`))
        let text = ''
        s.on('data', (d: Buffer) => {
          text += d.toString('latin1')
          if (text.endsWith('Hello, world\n')) resolve(s)
          else if (/^HTTP\/1\.1 [^2]/.test(text)) reject(new Error(text.slice(0, 200)))
        })
        s.once('error', reject)
      }),
  )
}

/** probeTimes: a curl probe's total, an intercepted one's handshake noted as the Node client's is. */
function probeTimes(t: CurlTimes, intercepted: boolean): number {
  if (t.status !== 200) throw new Error(`probe answered ${t.status}`)
  if (intercepted) phases.tls.push(t.tls)
  return t.total
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b)
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))]!.toFixed(2)
  return `median ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms, max ${s[s.length - 1]!.toFixed(2)} ms (n=${s.length})`
}

/** connectOnly sends CONNECT and resolves with the socket once the 200 arrived; `written` gets a promise of the CONNECT written. */
function connectOnly(
  proxyPort: number,
  host: string,
  port: number,
  written?: Promise<void>[],
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(proxyPort, '127.0.0.1')
    s.on('error', reject)
    const line = `CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`
    if (written === undefined) s.write(line)
    else written.push(new Promise((done) => s.write(line, () => done())))
    s.once('data', (d: Buffer) =>
      d.toString('latin1').startsWith('HTTP/1.1 200') ? resolve(s) : reject(new Error(d.toString('latin1'))),
    )
  })
}

/** handshake: CONNECT, 200, TLS (verified against the CA); resolves with its duration and the TLS session. */
function handshake(
  proxyPort: number,
  host: string,
  port: number,
  ca: tls.SecureContext,
  session?: Buffer,
): Promise<{ ms: number; socket: tls.TLSSocket; session: Buffer | undefined }> {
  const t0 = performance.now()
  return connectOnly(proxyPort, host, port).then(
    (raw) =>
      new Promise((resolve, reject) => {
        let got: Buffer | undefined
        const s = tls.connect({
          socket: raw,
          ALPNProtocols: ALPN,
          secureContext: ca,
          host,
          servername: net.isIP(host) ? undefined : host,
          session,
        })
        s.on('session', (b: Buffer) => (got = b))
        s.once('secureConnect', () => {
          const ms = performance.now() - t0
          // TLS 1.3 sends its session ticket after the handshake: wait a moment for it.
          setTimeout(() => {
            s.destroy()
            resolve({ ms, socket: s, session: got })
          }, 1)
        })
        s.once('error', reject)
      }),
  )
}

/** request: CONNECT + TLS + one GET; resolves with the milliseconds until the answer's body. */
function request(proxyPort: number, host: string, port: number, ca: tls.SecureContext): Promise<number> {
  const t0 = performance.now()
  return connectOnly(proxyPort, host, port).then(
    (raw) =>
      new Promise((resolve, reject) => {
        phases.connect.push(performance.now() - t0)
        const s = tls.connect({ socket: raw, secureContext: ca, host, ALPNProtocols: ALPN })
        s.once('secureConnect', () => {
          phases.tls.push(performance.now() - t0)
          s.write(`GET /small HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`)
        })
        let text = ''
        s.on('data', (d: Buffer) => {
          text += d.toString('latin1')
          if (text.endsWith('Hello, world\n')) {
            resolve(performance.now() - t0)
            s.destroy()
          } else if (/^HTTP\/1\.1 [^2]/.test(text)) reject(new Error(text.slice(0, 200)))
        })
        s.once('error', reject)
      }),
  )
}

/** directHandshake: TCP connect + TLS handshake to the origin itself, no proxy; resolves with its duration. */
function directHandshake(port: number, ca: tls.SecureContext): Promise<number> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      secureContext: ca,
      servername: undefined,
      ALPNProtocols: ALPN,
    })
    s.once('secureConnect', () => {
      const ms = performance.now() - t0
      s.destroy()
      resolve(ms)
    })
    s.once('error', reject)
  })
}

async function listening(port: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => (s.destroy(), resolve(true)))
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await sleep(100)
  }
  throw new Error('the gateway did not start')
}
