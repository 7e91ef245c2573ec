/**
 * A real `redis-server` for tests: started on a free 127.0.0.1 port with no
 * persistence, waited for until it answers PING, stopped when the test ends.
 * Redis cannot listen on port 0, so a free port is found by binding one and
 * releasing it; if another process takes it in between, start retries.
 *
 * Without redis-server installed, tests that need it skip (`redisSkip`),
 * unless CI is set: there a missing server is a failure (.ci/run installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** A running redis-server. */
export interface RedisServer {
  readonly port: number
  readonly url: string
  /** stop ends the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>
  /** start runs it again on the same port (after stop). */
  start(): Promise<void>
  /** pause and resume freeze and thaw the process (SIGSTOP / SIGCONT): a server that accepts but never answers. */
  pause(): void
  resume(): void
}

let installed: boolean | undefined

/** redisServerInstalled tells whether `redis-server` runs on this machine. */
export function redisServerInstalled(): boolean {
  installed ??= spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
  return installed
}

/**
 * redisSkip is the reason to skip tests that need redis-server: undefined
 * when it is installed, a message when it is not. Under CI a missing server
 * throws instead, so the suite fails rather than passing without Redis.
 * Use it as `describe(name, { skip: redisSkip() }, …)`.
 */
export function redisSkip(): string | undefined {
  if (redisServerInstalled()) return undefined
  const message = 'redis-server is not installed (apt-get install redis-server)'
  if (process.env.CI) throw new Error(`${message}; CI is set, so this is a failure`)
  return message
}

/**
 * startRedisServer starts a server on a free port; the caller stops it
 * (`after(() => server.stop())`).
 */
export async function startRedisServer(): Promise<RedisServer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await launch(await freePort())
    } catch (err) {
      if (attempt >= 4 || !String(err).includes('in use')) throw err
    }
  }
}

async function freePort(): Promise<number> {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as net.AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))
  return port
}

async function launch(port: number): Promise<RedisServer> {
  let child: ChildProcess | undefined
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = await spawnServer(port)
    },
    async stop() {
      const c = child
      child = undefined
      if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
      c.kill('SIGCONT')
      const exited = once(c, 'exit')
      c.kill('SIGTERM')
      await exited
    },
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
  }
  await server.start()
  return server
}

async function spawnServer(port: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited: ${output.slice(-300)}`)
    if (await answersPing(port)) return child
    await sleep(25)
  }
  child.kill('SIGKILL')
  throw new Error(`redis-server on ${port} did not answer within 5 s: ${output.slice(-300)}`)
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.setTimeout(500)
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (d) => {
      socket.destroy()
      resolve(d.toString().startsWith('+PONG'))
    })
    socket.on('error', () => resolve(false))
    socket.on('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}
