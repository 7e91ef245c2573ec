/**
 * Running the real `portcullis` binary as a child process, the way users and
 * scripts do, for the command-line tests.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/portcullis.ts', import.meta.url))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  cwd?: string
  env?: Record<string, string | undefined>
}

/** runCli runs `portcullis ...args` to completion. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], childOptions(options), (_err, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr }),
    )
  })
}

/** A long-running `portcullis` child whose output can be awaited line by line. */
export interface RunningCli {
  child: ChildProcess
  /** Resolves with the first match of `pattern` in stderr (from `from` on), or rejects after `ms`. */
  waitForStderr(pattern: RegExp, from?: number, ms?: number): Promise<RegExpExecArray>
  stderr(): string
  stdout(): string
  exited: Promise<number | null>
}

/** startCli spawns `portcullis ...args` and returns at once. */
export function startCli(args: string[], options: CliOptions = {}): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], { ...childOptions(options), stdio: 'pipe' })
  let err = ''
  let out = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  function waitForStderr(pattern: RegExp, from = 0, ms = 10_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${pattern}; stderr:\n${err}`)), ms)
      function check(): void {
        const m = pattern.exec(err.slice(from))
        if (m) done(undefined, m)
      }
      function done(e?: Error, m?: RegExpExecArray): void {
        clearTimeout(timer)
        child.stderr.off('data', check)
        child.off('exit', onExit)
        if (e) reject(e)
        else resolve(m!)
      }
      function onExit(): void {
        setImmediate(() =>
          pattern.test(err.slice(from)) ? check() : done(new Error(`exited; stderr:\n${err}`)),
        )
      }
      child.stderr.on('data', check)
      child.on('exit', onExit)
      check()
    })
  }
  return { child, waitForStderr, stderr: () => err, stdout: () => out, exited }
}

/**
 * killAfter kills `cli` when the test `t` ends, if it still runs (SIGKILL: a
 * supervisor's workers leave when their IPC channel closes), and returns it.
 */
export function killAfter(t: { after(fn: () => Promise<void>): void }, cli: RunningCli): RunningCli {
  t.after(async () => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) {
      cli.child.kill('SIGKILL')
      await cli.exited
    }
  })
  return cli
}

function childOptions(options: CliOptions) {
  return { cwd: options.cwd, env: { ...process.env, ...options.env }, encoding: 'utf8' as const }
}

/** withTempDir runs `fn` in a fresh temporary directory and removes it afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-cli-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The line `portcullis start` prints once it listens; group 1 is the port. */
export const LISTENING = /portcullis listening on http:\/\/127\.0\.0\.1:(\d+)\n/

/**
 * startWithConfig writes `lines` as gateway.yaml in `dir`, runs `portcullis
 * start` on it (killed when the test ends) and resolves once it listens,
 * with the port (the config listens on 127.0.0.1:0).
 */
export async function startWithConfig(
  t: { after(fn: () => Promise<void>): void },
  dir: string,
  lines: readonly string[],
  ms = 20_000,
): Promise<{ cli: RunningCli; port: string }> {
  const file = join(dir, 'gateway.yaml')
  await writeFile(file, [...lines, ''].join('\n'))
  const cli = killAfter(t, startCli(['start', '-c', file]))
  const [, port] = await cli.waitForStderr(LISTENING, 0, ms)
  return { cli, port: port! }
}
