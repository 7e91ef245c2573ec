/**
 * Running a gateway in the foreground, shared by `start` and `proxy`: listen,
 * say where, then live by signals. SIGTERM/SIGINT drain and exit 0; a second
 * one exits at once. SIGHUP (and, when watching, a changed file) reloads the
 * configuration; an invalid file is refused and the running configuration
 * keeps serving (reload.ts).
 */
import type { ConfigInputs, LoadResult } from '../config/load.ts'
import type { LogLevel } from '../config/log-schema.ts'
import type { GatewayConfig } from '../config/schema.ts'
import { ErrorLog } from '../observe/error-log.ts'
import { reopenLogFiles } from '../observe/log-files.ts'
import { announce, useLog } from './announce.ts'
import { EXIT_OK, EXIT_RUNTIME } from './command.ts'
import { Reloader } from './reload.ts'

/** The part of the gateway API the command line drives; a Supervisor of workers offers it too. */
interface Gateway {
  listen(): Promise<void>
  close(options?: { drainTimeout?: number }): Promise<void>
  reload(config: GatewayConfig): Promise<void>
  addresses(): { host: string; port: number; tls: boolean; forward?: boolean }[]
  /** Rolling restart onto the code on disk (SIGUSR2); only with workers. */
  restart?(): Promise<void>
  /** Have the workers reopen their log files (SIGUSR1); only with workers. */
  reopenLogs?(): void
}

export interface ServeOptions {
  /** The absolute path of the configuration file, when there is one. */
  configPath?: string
  /** Loads the configuration again on SIGHUP; without it SIGHUP is ignored with a note. */
  reload?: () => Promise<LoadResult>
  /** What `config` was read from; needed to watch it. */
  inputs?: ConfigInputs
  /** Watch the configuration files even when `reload.watch` is off (`--watch`). */
  watch?: boolean
  /**
   * Event loops to run: 1 (the default) is one process with no supervisor;
   * more runs a Supervisor of that many worker processes (src/server/workers/).
   */
  workers?: number
  /** `--log-level`: overrides `log.level` of the file, on start and on every reload. */
  logLevel?: LogLevel
}

/**
 * serve starts a gateway for `config` and resolves to the process exit code
 * once it has been stopped by a signal: 0 after a clean drain, 2 when it
 * cannot start (e.g. the address is in use) or fails to close.
 */
export async function serve(config: GatewayConfig, options: ServeOptions = {}): Promise<number> {
  config = withLogLevel(config, options.logLevel)
  const log = new ErrorLog(config.log)
  useLog(log)
  process.on('uncaughtExceptionMonitor', function logCrash(err, origin) {
    log.log('fatal', `crashed: ${origin}`, { stack: err instanceof Error ? err.stack : String(err) })
  })
  let gateway: Gateway
  try {
    gateway = await createServer(config, options, log)
  } catch (err) {
    announce('fatal', `portcullis: cannot start: ${errorMessage(err)}`)
    return EXIT_RUNTIME
  }
  try {
    await gateway.listen()
  } catch (err) {
    announce('fatal', `portcullis: cannot listen: ${errorMessage(err)}`)
    await gateway.close().catch(() => {})
    return EXIT_RUNTIME
  }
  const reload = options.reload
  const level = options.logLevel
  // Signal handlers and the watch go in before the "listening" lines:
  // whoever reads them may signal or edit at once, and an unhandled SIGHUP
  // would kill the process.
  const reloader =
    reload && options.inputs
      ? new Reloader({
          gateway,
          load: async () => {
            const r = await reload()
            return r.ok ? { ...r, config: withLogLevel(r.config, level) } : r
          },
          config,
          inputs: options.inputs,
          watch: options.watch ?? false,
        })
      : undefined
  const stopped = untilStopped(gateway, reloader)
  const workers = options.workers ?? 1
  for (const a of gateway.addresses())
    announce('info', `portcullis ${a.forward ? 'forward proxy ' : ''}listening on ${addressUrl(a)}`, {
      address: addressUrl(a),
      tls: a.tls,
      forward: a.forward,
      workers,
    })
  return stopped
}

/** withLogLevel applies `--log-level` over the file's `log.level`. */
function withLogLevel(config: GatewayConfig, level: LogLevel | undefined): GatewayConfig {
  return level === undefined ? config : { ...config, log: { ...config.log, level } }
}

/** createServer builds one gateway, or a supervisor of workers when more than one is asked for. */
async function createServer(config: GatewayConfig, options: ServeOptions, log: ErrorLog): Promise<Gateway> {
  // Loaded lazily so `check` and `--help` never load the server.
  if ((options.workers ?? 1) > 1) {
    const { Supervisor } = await import('../server/workers/supervisor.ts')
    const supervisor = new Supervisor({
      workers: options.workers!,
      config,
      configPath: options.configPath,
      log: supervisorLine,
    })
    // Each worker has its own log; this process's (the supervisor's lines) follows reloads here.
    const reload = supervisor.reload.bind(supervisor)
    supervisor.reload = async (next) => {
      await reload(next)
      log.configure(next.log)
    }
    return supervisor
  }
  const { createGateway } = await import('../server/gateway.ts')
  return createGateway(config, { configPath: options.configPath, log })
}

/**
 * supervisorLine announces a line of the supervisor; one about a worker is
 * logged as `worker …` with the worker's id and pid as fields.
 */
function supervisorLine(line: string, level: 'info' | 'warn' | 'error' = 'info'): void {
  const m = /^portcullis: worker (\d+) \(pid (\d+)\) (.*)$/.exec(line)
  if (m === null) announce(level, line)
  else announce(level, line, { worker: Number(m[1]), pid: Number(m[2]) }, undefined, `worker ${m[3]}`)
}

/** addressUrl renders a listening address as a URL a user can paste into curl. */
export function addressUrl(a: { host: string; port: number; tls: boolean }): string {
  const host = a.host.includes(':') ? `[${a.host}]` : a.host
  return `${a.tls ? 'https' : 'http'}://${host}:${a.port}`
}

function untilStopped(gateway: Gateway, reloader: Reloader | undefined): Promise<number> {
  return new Promise((resolveExit) => {
    let stopping = false

    function onStop(signal: NodeJS.Signals): void {
      if (stopping) {
        announce('warn', `portcullis: ${signal} again; exiting without waiting for in-flight requests`)
        process.exit(EXIT_RUNTIME)
      }
      stopping = true
      announce('info', `portcullis: ${signal} received; draining in-flight requests`, { signal })
      reloader?.close()
      // A reload in progress finishes first, so close() sees a settled gateway.
      Promise.resolve(reloader?.settled())
        .then(() => gateway.close())
        .then(
          () => finish(EXIT_OK, 'portcullis stopped'),
          (err) => finish(EXIT_RUNTIME, `portcullis: close failed: ${errorMessage(err)}`, 'error'),
        )
    }

    function onReload(): void {
      if (stopping) return
      if (reloader) reloader.onSignal()
      else announce('warn', 'portcullis: SIGHUP ignored: there is no configuration file to reload')
    }

    function onReopen(): void {
      reopenLogFiles()
      gateway.reopenLogs?.()
      announce('info', 'portcullis: SIGUSR1 received; log files reopened')
    }

    function onRestart(): void {
      if (stopping) return
      if (gateway.restart === undefined) {
        announce(
          'warn',
          'portcullis: SIGUSR2 ignored: one process (--workers 1) has no workers to roll; restart it',
        )
        return
      }
      announce('info', 'portcullis: SIGUSR2 received; rolling restart of the workers with the code on disk')
      gateway
        .restart()
        .catch((err) => announce('error', `portcullis: rolling restart failed: ${errorMessage(err)}`))
    }

    function finish(code: number, message: string, level: 'info' | 'error' = 'info'): void {
      process.off('SIGTERM', onStop).off('SIGINT', onStop).off('SIGHUP', onReload).off('SIGUSR2', onRestart)
      process.off('SIGUSR1', onReopen)
      announce(level, message)
      // Exit naturally so buffered output (access logs) is flushed; but a
      // handle someone forgot to close must not keep a stopped gateway alive.
      setTimeout(() => process.exit(), 2000).unref()
      resolveExit(code)
    }

    process.on('SIGTERM', onStop).on('SIGINT', onStop).on('SIGHUP', onReload).on('SIGUSR2', onRestart)
    process.on('SIGUSR1', onReopen)
  })
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
