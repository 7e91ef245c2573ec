/**
 * `portcullis check --config FILE`: validate a configuration without starting
 * anything, for editors, pre-commit hooks and CI.
 */
import { parseArgs } from 'node:util'
import { formatProblems, loadConfig } from '../config/load.ts'
import {
  type Command,
  EXIT_OK,
  EXIT_USAGE,
  parseOrUsage,
  printError,
  printOut,
  UsageError,
} from './command.ts'

const HELP = `Usage: portcullis check --config FILE

Validate a configuration file (YAML or JSON) without starting the gateway.
When it is valid, prints "FILE: ok" and exits 0. Otherwise prints every
problem, one per line, as

  FILE:LINE:COL key.path: message

on stderr and exits 1. The files it includes ("include:") are checked too,
and a problem in one of them names that file. \${NAME} references are
resolved from the environment, so run it with the environment the gateway
will have.

Options:
  -c, --config FILE   the configuration file
  -h, --help          show this help`

/** The `check` command. */
export const check: Command = {
  name: 'check',
  summary: 'validate a configuration file and report every problem',
  help: HELP,
  run: runCheck,
}

async function runCheck(args: string[]): Promise<number> {
  const { values } = parseOrUsage('check', () =>
    parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true }),
  )
  if (values.config === undefined) throw new UsageError('check', 'missing --config FILE')
  const result = await loadConfig(values.config)
  if (!result.ok) {
    printError(formatProblems(result.problems))
    return EXIT_USAGE
  }
  printOut(`${values.config}: ok`)
  return EXIT_OK
}
