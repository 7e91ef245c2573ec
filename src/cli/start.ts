/**
 * `portcullis start --config FILE`: the full gateway in the foreground.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { formatProblems, loadConfig } from '../config/load.ts'
import { type Command, EXIT_USAGE, parseOrUsage, printError, UsageError } from './command.ts'
import { LOG_LEVEL_HELP, parseLogLevel } from './log-level.ts'
import { serve } from './serve.ts'

const HELP = `Usage: portcullis start --config FILE [--watch] [--workers N|auto] [--pid-file FILE] [--log-level LEVEL]

Start the gateway described by a configuration file (YAML or JSON) and serve
until stopped. Prints one line per listening address.

Signals:
  SIGTERM, SIGINT   stop accepting, drain in-flight requests, exit 0
                    (a second signal exits at once)
  SIGHUP            reload the configuration file (and the files it
                    includes); an invalid file is refused, its problems
                    logged, and the running configuration keeps serving
  SIGUSR2           with workers: rolling restart onto the code on disk
                    (each new worker listens before the old one drains)
  SIGUSR1           reopen log files (after logrotate moved them)

Options:
  -c, --config FILE      the configuration file
      --watch            also reload when the file or an included file
                         changes (as reload.watch: true in the file)
  -w, --workers N|auto   worker processes, one event loop each (default:
                         workers: in the file, else 1); auto is one per
                         core. With more than 1, a supervisor restarts a
                         worker that crashes or stops answering
      --pid-file FILE    write the process id to FILE while running (for
                         'portcullis reload --pid-file FILE')
${LOG_LEVEL_HELP}
  -h, --help             show this help

Exit status: 0 after a clean shutdown, 1 for an invalid configuration or
command line, 2 when the gateway cannot run (e.g. the address is in use).`

/** The `start` command. */
export const start: Command = {
  name: 'start',
  summary: 'start the gateway from a configuration file',
  help: HELP,
  run: runStart,
}

async function runStart(args: string[]): Promise<number> {
  const { values } = parseOrUsage('start', () =>
    parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        watch: { type: 'boolean' },
        workers: { type: 'string', short: 'w' },
        'pid-file': { type: 'string' },
        'log-level': { type: 'string' },
      },
      strict: true,
    }),
  )
  const configPath = values.config
  if (configPath === undefined) throw new UsageError('start', 'missing --config FILE')
  const flag = parseWorkers(values.workers)
  const logLevel = parseLogLevel('start', values['log-level'])
  const result = await loadConfig(configPath)
  if (!result.ok) {
    printError(formatProblems(result.problems))
    return EXIT_USAGE
  }
  const workers = flag ?? countWorkers(result.config.workers)
  const pidFile = values['pid-file']
  if (pidFile !== undefined) writeFileSync(pidFile, `${process.pid}\n`)
  try {
    return await serve(result.config, {
      configPath: result.file,
      reload: () => loadConfig(configPath),
      inputs: result.inputs,
      watch: values.watch ?? false,
      workers,
      logLevel,
    })
  } finally {
    if (pidFile !== undefined) rmSync(pidFile, { force: true })
  }
}

/** countWorkers resolves `workers:` from the file: `auto` is one per available core. */
function countWorkers(value: number | 'auto'): number {
  return value === 'auto' ? availableParallelism() : value
}

/** parseWorkers reads `--workers`: a positive integer or `auto` (one per CPU); undefined when absent (the file decides). */
export function parseWorkers(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (text === 'auto') return availableParallelism()
  if (/^\d+$/.test(text) && Number(text) >= 1) return Number(text)
  throw new UsageError('start', `--workers must be a positive integer or 'auto', got '${text}'`)
}
