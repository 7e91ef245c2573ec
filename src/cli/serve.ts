/**
 * Running a gateway in the foreground, shared by `start` and `proxy`: listen,
 * say where, then live by signals. SIGTERM/SIGINT drain and exit 0; a second
 * one exits at once. SIGHUP (and, when watching, a changed file) reloads the
 * configuration; an invalid file is refused and the running configuration
 * keeps serving (reload.ts).
 */
import type { ConfigInputs, LoadResult } from '../config/load.ts'
import type { GatewayConfig } from '../config/schema.ts'
import { EXIT_OK, EXIT_RUNTIME, printError } from './command.ts'
import { Reloader } from './reload.ts'

/** The part of the gateway API the command line drives; a Supervisor of workers offers it too. */
interface Gateway {
  listen(): Promise<void>
  close(options?: { drainTimeout?: number }): Promise<void>
  reload(config: GatewayConfig): Promise<void>
  addresses(): { host: string; port: number; tls: boolean; forward?: boolean }[]
  /** Rolling restart onto the code on disk (SIGUSR2); only with workers. */
  restart?(): Promise<void>
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
}

/**
 * serve starts a gateway for `config` and resolves to the process exit code
 * once it has been stopped by a signal: 0 after a clean drain, 2 when it
 * cannot start (e.g. the address is in use) or fails to close.
 */
export async function serve(config: GatewayConfig, options: ServeOptions = {}): Promise<number> {
  let gateway: Gateway
  try {
    gateway = await createServer(config, options)
  } catch (err) {
    printError(`portcullis: cannot start: ${errorMessage(err)}`)
    return EXIT_RUNTIME
  }
  try {
    await gateway.listen()
  } catch (err) {
    printError(`portcullis: cannot listen: ${errorMessage(err)}`)
    await gateway.close().catch(() => {})
    return EXIT_RUNTIME
  }
  // Signal handlers and the watch go in before the "listening" lines:
  // whoever reads them may signal or edit at once, and an unhandled SIGHUP
  // would kill the process.
  const reloader =
    options.reload && options.inputs
      ? new Reloader({
          gateway,
          load: options.reload,
          config,
          inputs: options.inputs,
          watch: options.watch ?? false,
        })
      : undefined
  const stopped = untilStopped(gateway, reloader)
  for (const a of gateway.addresses())
    printError(`portcullis ${a.forward ? 'forward proxy ' : ''}listening on ${addressUrl(a)}`)
  return stopped
}

/** createServer builds one gateway, or a supervisor of workers when more than one is asked for. */
async function createServer(config: GatewayConfig, options: ServeOptions): Promise<Gateway> {
  // Loaded lazily so `check` and `--help` never load the server.
  if ((options.workers ?? 1) > 1) {
    const { Supervisor } = await import('../server/workers/supervisor.ts')
    return new Supervisor({
      workers: options.workers!,
      config,
      configPath: options.configPath,
      log: printError,
    })
  }
  const { createGateway } = await import('../server/gateway.ts')
  return createGateway(config, { configPath: options.configPath })
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
        printError(`portcullis: ${signal} again; exiting without waiting for in-flight requests`)
        process.exit(EXIT_RUNTIME)
      }
      stopping = true
      printError(`portcullis: ${signal} received; draining in-flight requests`)
      reloader?.close()
      // A reload in progress finishes first, so close() sees a settled gateway.
      Promise.resolve(reloader?.settled())
        .then(() => gateway.close())
        .then(
          () => finish(EXIT_OK, 'portcullis stopped'),
          (err) => finish(EXIT_RUNTIME, `portcullis: close failed: ${errorMessage(err)}`),
        )
    }

    function onReload(): void {
      if (stopping) return
      if (reloader) reloader.onSignal()
      else printError('portcullis: SIGHUP ignored: there is no configuration file to reload')
    }

    function onRestart(): void {
      if (stopping) return
      if (gateway.restart === undefined) {
        printError(
          'portcullis: SIGUSR2 ignored: one process (--workers 1) has no workers to roll; restart it',
        )
        return
      }
      printError('portcullis: SIGUSR2 received; rolling restart of the workers with the code on disk')
      gateway.restart().catch((err) => printError(`portcullis: rolling restart failed: ${errorMessage(err)}`))
    }

    function finish(code: number, message: string): void {
      process.off('SIGTERM', onStop).off('SIGINT', onStop).off('SIGHUP', onReload).off('SIGUSR2', onRestart)
      printError(message)
      // Exit naturally so buffered output (access logs) is flushed; but a
      // handle someone forgot to close must not keep a stopped gateway alive.
      setTimeout(() => process.exit(), 2000).unref()
      resolveExit(code)
    }

    process.on('SIGTERM', onStop).on('SIGINT', onStop).on('SIGHUP', onReload).on('SIGUSR2', onRestart)
  })
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
