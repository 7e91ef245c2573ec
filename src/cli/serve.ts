/**
 * Running a gateway in the foreground, shared by `start` and `proxy`: listen,
 * say where, then live by signals. SIGTERM/SIGINT drain and exit 0; a second
 * one exits at once. SIGHUP reloads the configuration; an invalid file is
 * refused and the running configuration keeps serving.
 */
import { formatProblems, type LoadResult } from '../config/load.ts'
import type { GatewayConfig } from '../config/schema.ts'
import { EXIT_OK, EXIT_RUNTIME, printError } from './command.ts'

/** The part of the gateway API the command line drives. */
interface Gateway {
  listen(): Promise<void>
  close(options?: { drainTimeout?: number }): Promise<void>
  reload(config: GatewayConfig): Promise<void>
  addresses(): { host: string; port: number; tls: boolean }[]
}

export interface ServeOptions {
  /** The absolute path of the configuration file, when there is one. */
  configPath?: string
  /** Loads the configuration again on SIGHUP; without it SIGHUP is ignored with a note. */
  reload?: () => Promise<LoadResult>
}

/**
 * serve starts a gateway for `config` and resolves to the process exit code
 * once it has been stopped by a signal: 0 after a clean drain, 2 when it
 * cannot start (e.g. the address is in use) or fails to close.
 */
export async function serve(config: GatewayConfig, options: ServeOptions = {}): Promise<number> {
  let gateway: Gateway
  try {
    // Loaded lazily so `check` and `--help` never load the server.
    const { createGateway } = await import('../server/gateway.ts')
    gateway = await createGateway(config, { configPath: options.configPath })
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
  // Signal handlers go in before the "listening" lines: whoever reads them
  // may signal at once, and an unhandled SIGHUP would kill the process.
  const stopped = untilStopped(gateway, options.reload)
  for (const a of gateway.addresses()) printError(`portcullis listening on ${addressUrl(a)}`)
  return stopped
}

/** addressUrl renders a listening address as a URL a user can paste into curl. */
export function addressUrl(a: { host: string; port: number; tls: boolean }): string {
  const host = a.host.includes(':') ? `[${a.host}]` : a.host
  return `${a.tls ? 'https' : 'http'}://${host}:${a.port}`
}

function untilStopped(gateway: Gateway, reload: ServeOptions['reload']): Promise<number> {
  return new Promise((resolveExit) => {
    let stopping = false
    let reloading: Promise<void> = Promise.resolve()

    function onStop(signal: NodeJS.Signals): void {
      if (stopping) {
        printError(`portcullis: ${signal} again; exiting without waiting for in-flight requests`)
        process.exit(EXIT_RUNTIME)
      }
      stopping = true
      printError(`portcullis: ${signal} received; draining in-flight requests`)
      // A reload in progress finishes first, so close() sees a settled gateway.
      reloading
        .then(() => gateway.close())
        .then(
          () => finish(EXIT_OK, 'portcullis stopped'),
          (err) => finish(EXIT_RUNTIME, `portcullis: close failed: ${errorMessage(err)}`),
        )
    }

    function onReload(): void {
      if (!stopping) reloading = reloading.then(() => reloadOnce(gateway, reload))
    }

    function finish(code: number, message: string): void {
      process.off('SIGTERM', onStop).off('SIGINT', onStop).off('SIGHUP', onReload)
      printError(message)
      // Exit naturally so buffered output (access logs) is flushed; but a
      // handle someone forgot to close must not keep a stopped gateway alive.
      setTimeout(() => process.exit(), 2000).unref()
      resolveExit(code)
    }

    process.on('SIGTERM', onStop).on('SIGINT', onStop).on('SIGHUP', onReload)
  })
}

async function reloadOnce(gateway: Gateway, reload: ServeOptions['reload']): Promise<void> {
  if (!reload) {
    printError('portcullis: SIGHUP ignored: there is no configuration file to reload')
    return
  }
  const result = await reload()
  if (!result.ok) {
    printError(formatProblems(result.problems))
    printError('reload refused; keeping the running configuration')
    return
  }
  try {
    await gateway.reload(result.config)
    printError('configuration reloaded')
  } catch (err) {
    printError(`portcullis: reload failed: ${errorMessage(err)}`)
    printError('reload refused; keeping the running configuration')
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
