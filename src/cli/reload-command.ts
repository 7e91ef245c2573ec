/**
 * `portcullis reload --pid PID [--code]`: signal a running gateway, for
 * scripts and service managers that prefer a command to `kill`. Without
 * `--code` it sends SIGHUP (reload the configuration); with `--code`,
 * SIGUSR2 (rolling restart of the workers onto the code on disk). What the
 * gateway did is in its own log, as with the signals.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { type Command, EXIT_OK, EXIT_RUNTIME, parseOrUsage, printError, UsageError } from './command.ts'

const HELP = `Usage: portcullis reload (--pid PID | --pid-file FILE) [--code]

Ask a running 'portcullis start' to reload: its configuration (SIGHUP), or
with --code a rolling restart of its workers onto the code on disk (SIGUSR2:
each new worker listens before the old one drains). The outcome is logged
by the gateway.

Options:
      --pid PID          the gateway's process id (the supervisor's, with workers)
      --pid-file FILE    read the process id from FILE
      --code             rolling restart with new code instead of a configuration reload
  -h, --help             show this help

Exit status: 0 once the signal is sent, 1 for a bad command line, 2 when
no such process can be signalled.`

/** The `reload` command. */
export const reload: Command = {
  name: 'reload',
  summary: 'reload a running gateway (--code: rolling restart onto new code)',
  help: HELP,
  run: runReload,
}

async function runReload(args: string[]): Promise<number> {
  const { values } = parseOrUsage('reload', () =>
    parseArgs({
      args,
      options: { pid: { type: 'string' }, 'pid-file': { type: 'string' }, code: { type: 'boolean' } },
      strict: true,
    }),
  )
  const pid = readPid(values.pid, values['pid-file'])
  const signal = values.code ? 'SIGUSR2' : 'SIGHUP'
  try {
    process.kill(pid, signal)
  } catch (err) {
    printError(`portcullis reload: cannot signal process ${pid}: ${(err as NodeJS.ErrnoException).code}`)
    return EXIT_RUNTIME
  }
  printError(`portcullis reload: sent ${signal} to ${pid}`)
  return EXIT_OK
}

function readPid(flag: string | undefined, file: string | undefined): number {
  if ((flag === undefined) === (file === undefined))
    throw new UsageError('reload', 'give one of --pid and --pid-file')
  const text = flag ?? readFileSync(file!, 'utf8').trim()
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError('reload', `not a process id: '${text}'`)
  return Number(text)
}
