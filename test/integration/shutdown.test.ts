/**
 * Shutdown and reload as an operator sees them: the real `portcullis start`
 * process receives SIGTERM / SIGINT (drain in-flight requests, close idle
 * keep-alive connections, refuse new ones, exit 0, bounded by timeouts.drain)
 * and SIGHUP (a valid file takes over without dropping a connection; an
 * invalid one is logged and refused). The programmatic close() is checked the
 * same way in-process.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createGateway } from '../../src/server/gateway.ts'
import { waitFor } from '../helpers/gateway.ts'

const BIN = fileURLToPath(new URL('../../bin/portcullis.ts', import.meta.url))
const LISTENING = /portcullis listening on http:\/\/127\.0\.0\.1:(\d+)/

let origin: http.Server
let originPort: number
/** Requests the origin has received, by path. */
let arrived: string[] = []
const timers = new Set<NodeJS.Timeout>()

before(async () => {
  // `/slow?ms=N` answers after N ms; anything else at once.
  origin = http.createServer((req, res) => {
    arrived.push(req.url!)
    const ms = Number(new URL(req.url!, 'http://x').searchParams.get('ms') ?? 0)
    const t = setTimeout(() => {
      timers.delete(t)
      res.end(`done ${req.url}`)
    }, ms)
    timers.add(t)
  })
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
  originPort = (origin.address() as AddressInfo).port
})

after(async () => {
  for (const t of timers) clearTimeout(t)
  origin.closeAllConnections()
  await new Promise((r) => origin.close(r))
})

beforeEach(() => {
  arrived = []
})

/** yaml is a gateway config: a fixed route answering `fixedBody` at /fixed, the origin for the rest. */
function yaml(o: { port: number; fixedBody: string; drain: string }): string {
  return `listen:
  - address: 127.0.0.1:${o.port}
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${originPort}
routes:
  - match: { path: /fixed }
    respond: { body: ${o.fixedBody} }
  - upstream: app
timeouts:
  drain: ${o.drain}
`
}

interface Cli {
  child: ChildProcess
  port: number
  file: string
  stderr(): string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>
}

let dir: string
let running: Cli | undefined

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-shutdown-'))
})

afterEach(async () => {
  if (running !== undefined && running.child.exitCode === null && running.child.signalCode === null) {
    running.child.kill('SIGKILL')
    await running.exited
  }
  running = undefined
  await rm(dir, { recursive: true, force: true })
})

/** startCli runs `portcullis start -c FILE` and resolves once it listens. */
async function startCli(drain: string): Promise<Cli> {
  const file = join(dir, 'gateway.yaml')
  await writeFile(file, yaml({ port: 0, fixedBody: 'v1', drain }))
  const child = spawn(process.execPath, [BIN, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
  child.stdout!.resume()
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal, at: performance.now() })),
  )
  const cli: Cli = { child, port: 0, file, stderr: () => err, exited }
  running = cli
  await waitFor(() => LISTENING.test(err) || child.exitCode !== null, 'the gateway to listen', 10_000)
  const m = LISTENING.exec(err)
  if (m === null) assert.fail(`the gateway did not start:\n${err}`)
  cli.port = Number(m[1])
  // Later rewrites keep the bound port, as an operator's file would name it.
  await writeFile(file, yaml({ port: cli.port, fixedBody: 'v1', drain }))
  return cli
}

interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  socket: net.Socket
}

/** get sends a GET with `agent` (keep-alive) and reads the whole answer. */
function get(port: number, path: string, agent: http.Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body, socket: req.socket! }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

/** refused resolves true once a new TCP connection to `port` is refused. */
function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.on('connect', () => {
      s.destroy()
      resolve(false)
    })
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'))
  })
}

async function untilRefused(port: number): Promise<void> {
  const end = Date.now() + 3000
  while (!(await connectRefused(port))) {
    if (Date.now() > end) assert.fail('new connections are still accepted')
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** idleKeepAlive opens a keep-alive connection, serves one request on it and leaves it idle. */
async function idleKeepAlive(port: number): Promise<{ agent: http.Agent; closed: Promise<unknown> }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const r = await get(port, '/fixed', agent)
  assert.equal(r.status, 200)
  return { agent, closed: once(r.socket, 'close') }
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  describe(`portcullis start, ${signal}`, () => {
    it('finishes the in-flight request, closes idle connections, refuses new ones, exits 0', async () => {
      const cli = await startCli('10s')
      const idle = await idleKeepAlive(cli.port)
      const slowAgent = new http.Agent({ keepAlive: true })
      try {
        const slow = get(cli.port, '/slow?ms=1200', slowAgent)
        await waitFor(() => arrived.includes('/slow?ms=1200'), 'the slow request to reach the origin')
        const signalled = performance.now()
        cli.child.kill(signal)

        await idle.closed // the idle keep-alive connection is closed by the gateway
        await untilRefused(cli.port)
        const r = await slow
        assert.equal(r.status, 200)
        assert.equal(r.body, 'done /slow?ms=1200')
        assert.equal(r.headers.connection, 'close', 'a draining gateway says it closes')

        const exit = await cli.exited
        assert.deepEqual([exit.code, exit.signal], [0, null], cli.stderr())
        const took = exit.at - signalled
        assert.ok(took > 1000 && took < 6000, `exited ${Math.round(took)} ms after ${signal}`)
      } finally {
        idle.agent.destroy()
        slowAgent.destroy()
      }
    })

    it('exits 0 after timeouts.drain when a request outlasts it', async () => {
      const cli = await startCli('1s')
      const agent = new http.Agent({ keepAlive: true })
      try {
        const slow = get(cli.port, '/slow?ms=30000', agent).then(
          (r) => `answered ${r.status}`,
          (e: NodeJS.ErrnoException) => e.code,
        )
        await waitFor(() => arrived.includes('/slow?ms=30000'), 'the slow request to reach the origin')
        const signalled = performance.now()
        cli.child.kill(signal)
        const exit = await cli.exited
        assert.deepEqual([exit.code, exit.signal], [0, null], cli.stderr())
        const took = exit.at - signalled
        assert.ok(took > 900 && took < 6000, `exited ${Math.round(took)} ms after ${signal}`)
        // The client sees its connection cut, never a made-up success.
        assert.equal(await slow, 'ECONNRESET')
      } finally {
        agent.destroy()
      }
    })
  })
}

describe('portcullis start, SIGHUP', () => {
  it('serves a valid changed file without dropping an open keep-alive connection', async () => {
    const cli = await startCli('10s')
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const first = await get(cli.port, '/fixed', agent)
      assert.equal(first.body, 'v1')
      let dropped = false
      first.socket.on('close', () => (dropped = true))
      // A request in flight across the reload finishes on the old configuration.
      const slowAgent = new http.Agent({ keepAlive: true })
      const slow = get(cli.port, '/slow?ms=500', slowAgent)
      await waitFor(() => arrived.includes('/slow?ms=500'), 'the slow request to reach the origin')

      await writeFile(cli.file, yaml({ port: cli.port, fixedBody: 'v2', drain: '10s' }))
      cli.child.kill('SIGHUP')
      let r = first
      const end = Date.now() + 5000
      while (r.body === 'v1' && Date.now() < end) {
        await new Promise((res) => setTimeout(res, 20))
        r = await get(cli.port, '/fixed', agent)
        assert.equal(r.socket, first.socket, 'the same keep-alive connection serves on')
      }
      assert.equal(r.body, 'v2')
      assert.equal(dropped, false)
      assert.equal((await get(cli.port, '/fixed', new http.Agent())).body, 'v2', 'a new connection too')
      const s = await slow
      assert.equal(s.status, 200)
      assert.equal(s.body, 'done /slow?ms=500')
      slowAgent.destroy()
      assert.equal(cli.child.exitCode, null, 'still running')
    } finally {
      agent.destroy()
    }
    cli.child.kill('SIGTERM')
    assert.equal((await cli.exited).code, 0)
  })

  it('logs an invalid file and keeps serving the old configuration', async () => {
    const cli = await startCli('10s')
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const first = await get(cli.port, '/fixed', agent)
      assert.equal(first.body, 'v1')
      for (const [broken, problem] of [
        [
          yaml({ port: cli.port, fixedBody: 'v2', drain: '10s' }).replace('upstream: app', 'upstream: nope'),
          /routes\.1\.upstream: unknown upstream 'nope'/,
        ],
        [yaml({ port: cli.port, fixedBody: 'v2', drain: 'soon' }), /timeouts\.drain: invalid duration/],
        ['listen: [\n', /gateway\.yaml:\d+:\d+/],
      ] as const) {
        const mark = cli.stderr().length
        await writeFile(cli.file, broken)
        cli.child.kill('SIGHUP')
        await waitFor(() => /refused/.test(cli.stderr().slice(mark)), 'the reload to be refused')
        const log = cli.stderr().slice(mark)
        assert.match(log, problem)
        assert.ok(log.includes(cli.file), `the problem names the file:\n${log}`)
        const r = await get(cli.port, '/fixed', agent)
        assert.equal(r.body, 'v1', 'the old configuration keeps serving')
        assert.equal(r.socket, first.socket, 'on the same connection')
        assert.equal((await get(cli.port, '/proxied', new http.Agent())).body, 'done /proxied')
      }
      assert.equal(cli.child.exitCode, null, 'still running')
    } finally {
      agent.destroy()
    }
    cli.child.kill('SIGTERM')
    assert.equal((await cli.exited).code, 0)
  })
})

describe('Gateway.close() in-process', () => {
  it('drains like the command: in-flight finishes, idle closes, new refused', async () => {
    const gw = await createGateway({
      listen: [{ address: '127.0.0.1:0' }],
      upstreams: { app: { targets: [{ url: `http://127.0.0.1:${originPort}` }] } },
      routes: [{ match: { path: '/fixed' }, respond: { body: 'v1' } }, { upstream: 'app' }],
    })
    await gw.listen()
    const port = gw.addresses()[0]!.port
    const idle = await idleKeepAlive(port)
    const agent = new http.Agent({ keepAlive: true })
    let closing: Promise<void> | undefined
    try {
      const slow = get(port, '/slow?ms=600', agent)
      await waitFor(() => arrived.includes('/slow?ms=600'), 'the slow request to reach the origin')
      const t0 = performance.now()
      closing = gw.close({ drainTimeout: 5000 })
      await idle.closed
      await untilRefused(port)
      assert.equal((await slow).body, 'done /slow?ms=600')
      await closing
      const took = performance.now() - t0
      assert.ok(took > 400 && took < 3000, `close took ${Math.round(took)} ms`)
      assert.equal(gw.stats().connections, 0)
    } finally {
      idle.agent.destroy()
      agent.destroy()
      await (closing ?? gw.close({ drainTimeout: 100 }))
    }
  })
})
