/**
 * Child processes of the benchmark: every one is spawned detached (its own
 * process group), pinned to a core when the machine allows it, registered,
 * and killed by group on stop, on exit, and on Ctrl-C. Nothing the harness
 * starts may outlive it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'

/** Where load generators and origins run, and where each contestant runs. */
export interface Placement {
  /** Core for wrk, clients and origins; undefined when not pinning. */
  loadCpu: number | undefined
  /** Core for the contestant; undefined when not pinning. */
  contestantCpu: number | undefined
  /** Why pinning is off, when it is. */
  note?: string
}

export interface SpawnOptions {
  /** Pin to this core with taskset (ignored when undefined). */
  cpu?: number | undefined
  /** Raise the open-file limit of the child (for 10,000 connections). */
  nofile?: number
  /** Keep stdin open as a pipe the caller writes to. */
  stdinPipe?: boolean
  env?: NodeJS.ProcessEnv
}

/** A running child and its output. */
export interface Managed {
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>
  /** Everything written on stdout so far. */
  stdout(): string
  /** The last few KB of stderr, for error messages. */
  stderrTail(): string
  /** True once the process has exited. */
  hasExited(): boolean
}

const running = new Set<Managed>()
const tools = new Map<string, boolean>()

let hardLimit: number | undefined

/**
 * hardFileLimit is the most open files a child may have. Raising the hard
 * limit needs CAP_SYS_RESOURCE, which containers often lack, so the harness
 * works within it (and reports it).
 */
export function hardFileLimit(): number {
  if (hardLimit === undefined) {
    const text = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()
    hardLimit = text === 'unlimited' ? 1 << 20 : Number(text)
  }
  return hardLimit
}

/** hasTool reports whether an executable is on PATH (cached). */
export function hasTool(name: string): boolean {
  let found = tools.get(name)
  if (found === undefined) {
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' })
      found = true
    } catch {
      found = false
    }
    tools.set(name, found)
  }
  return found
}

/**
 * spawnManaged starts `command` in its own process group. prlimit and taskset
 * exec the command, so the pid (and group) we hold is the command's own.
 */
export function spawnManaged(name: string, command: string, args: string[], options: SpawnOptions = {}) {
  const prefix: string[] = []
  if (options.nofile !== undefined && hasTool('prlimit')) {
    const n = Math.min(options.nofile, hardFileLimit())
    prefix.push('prlimit', `--nofile=${n}:${n}`)
  }
  if (options.cpu !== undefined) prefix.push('taskset', '-c', String(options.cpu))
  const argv = [...prefix, command, ...args]
  const child = spawn(argv[0]!, argv.slice(1), {
    detached: true,
    stdio: [options.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  })
  let out = ''
  let err = ''
  let done = false
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d
  })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-4096)
  })
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      err += `\nspawn failed: ${e.message}`
      done = true
      resolve(-1)
    })
    // 'close', not 'exit': only then has all of stdout been read.
    child.on('close', (code) => {
      done = true
      resolve(code)
    })
  })
  if (priority !== undefined && child.pid !== undefined) raisePriority(child.pid, priority)
  const managed: Managed = {
    name,
    pid: child.pid ?? -1,
    child,
    exited,
    stdout: () => out,
    stderrTail: () => err.trim(),
    hasExited: () => done,
  }
  running.add(managed)
  void exited.then(() => running.delete(managed))
  return managed
}

let priority: number | undefined

/**
 * usePriority runs the harness and every child from now on at `nice`.
 * Children are session leaders (detached), and with autogroup scheduling
 * each session is its own group whose weight plain nice does not change,
 * so the group's nice is set as well.
 */
export function usePriority(nice: number): void {
  priority = nice
  os.setPriority(nice)
  raisePriority(process.pid, nice)
}

function raisePriority(pid: number, nice: number): void {
  try {
    os.setPriority(pid, nice)
    writeFileSync(`/proc/${pid}/autogroup`, String(nice))
  } catch {
    // No autogroup (or no permission): plain nice is what we can do.
  }
}

/** stop sends SIGTERM to the process group, then SIGKILL after `graceMs`. */
export async function stop(p: Managed, graceMs = 2000): Promise<void> {
  if (p.hasExited()) return
  signalGroup(p, 'SIGTERM')
  const timer = setTimeout(() => signalGroup(p, 'SIGKILL'), graceMs)
  await p.exited
  clearTimeout(timer)
  // Workers (nginx) may outlive their master by a moment; the group must go.
  signalGroup(p, 'SIGKILL')
}

function signalGroup(p: Managed, signal: NodeJS.Signals): void {
  if (p.pid <= 0) return
  try {
    process.kill(-p.pid, signal)
  } catch {
    // Already gone.
  }
}

/** stopAll stops every child still running, in parallel. */
export async function stopAll(graceMs = 1000): Promise<void> {
  await Promise.all([...running].map((p) => stop(p, graceMs)))
}

/** killAllNow is the synchronous last resort for the `exit` event. */
export function killAllNow(): void {
  for (const p of running) signalGroup(p, 'SIGKILL')
}

/**
 * runToCompletion runs a short-lived tool (wrk, a client) and returns its
 * output. It is killed when it overruns `timeoutMs`, so every load run is
 * bounded even if the tool hangs.
 */
export async function runToCompletion(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions & { timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  const p = spawnManaged(name, command, args, options)
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    void stop(p, 500)
  }, options.timeoutMs)
  const code = await p.exited
  clearTimeout(timer)
  signalGroup(p, 'SIGKILL')
  return { code, stdout: p.stdout(), stderr: p.stderrTail(), timedOut }
}

const handedOut = new Set<number>()

/**
 * freePort asks the kernel for a port that is free right now (bind to 0,
 * close), never the same one twice in a run: instances start concurrently.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo
        server.close(() => resolve(port))
      })
    })
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
}

/**
 * waitForHttp polls until `GET path` on the port answers with a 2xx status,
 * or throws after `timeoutMs` (including the child's stderr when it died).
 */
export async function waitForHttp(port: number, path: string, p: Managed, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (p.hasExited()) throw new Error(`${p.name} exited at start: ${p.stderrTail() || 'no output'}`)
    const status = await probe(port, path).catch((e: Error) => e.message)
    if (typeof status === 'number' && status >= 200 && status < 300) return
    last = String(status)
    await sleep(50)
  }
  throw new Error(`${p.name} not ready on port ${port} after ${timeoutMs} ms (${last}): ${p.stderrTail()}`)
}

/** probe sends one GET and resolves with the status code of the answer. */
function probe(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let head = ''
    socket.setTimeout(1000, () => socket.destroy(new Error('probe timeout')))
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)
    })
    socket.on('data', (d) => {
      head += d.toString('latin1')
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head)
      if (m) {
        socket.destroy()
        resolve(Number(m[1]))
      }
    })
    socket.on('error', reject)
    socket.on('close', () => reject(new Error('closed without a status line')))
  })
}

/**
 * groupRss sums the resident memory of every process in a process group
 * (nginx master + worker; a Node contestant is one process). Bytes.
 */
export function groupRss(pgid: number): number {
  let total = 0
  for (const entry of readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1')
      // Fields after the command name (which may hold spaces): state ppid pgrp …
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[2]) !== pgid) continue
      const statm = readFileSync(`/proc/${entry}/statm`, 'latin1').split(' ')
      total += Number(statm[1]) * PAGE_SIZE
    } catch {
      // The process ended between listing and reading.
    }
  }
  return total
}

const PAGE_SIZE = 4096

/** RssSampler records the peak group RSS every `intervalMs` until stopped. */
export class RssSampler {
  readonly baseline: number
  peak: number
  private readonly pgid: number
  private readonly timer: NodeJS.Timeout

  constructor(pgid: number, intervalMs = 100) {
    this.pgid = pgid
    this.baseline = groupRss(pgid)
    this.peak = this.baseline
    this.timer = setInterval(() => this.sample(), intervalMs)
  }

  sample(): number {
    const rss = groupRss(this.pgid)
    if (rss > this.peak) this.peak = rss
    return rss
  }

  /** stop ends sampling and returns the growth of the peak over the baseline, in bytes. */
  stop(): number {
    clearInterval(this.timer)
    this.sample()
    return this.peak - this.baseline
  }
}

/** pinSelf moves the harness (every thread) onto the load core so it never disturbs a contestant. */
export function pinSelf(cpu: number | undefined): void {
  if (cpu === undefined) return
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' })
  } catch {
    // Pinning is an improvement, not a requirement.
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

let interrupted = false

/** stopping is true once Ctrl-C (or SIGTERM) has been received: results from then on are noise. */
export function stopping(): boolean {
  return interrupted
}

/**
 * installCleanup makes sure children die with the harness: on Ctrl-C or
 * SIGTERM they are stopped (then `finally` runs and the process exits 130),
 * and on any exit whatever is left is killed synchronously.
 */
export function installCleanup(finalize: () => void): void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      killAllNow()
      process.exit(130)
    }
    interrupted = true
    process.stderr.write(`\n${signal}: stopping everything the benchmark started…\n`)
    void stopAll(500).finally(() => {
      finalize()
      process.exit(130)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('SIGHUP', onSignal)
  process.on('exit', () => {
    killAllNow()
    finalize()
  })
}

/** ourGroups is the process group of every child still running (for CPU accounting). */
export function ourGroups(): Set<number> {
  return new Set([...running].map((p) => p.pid))
}
