/**
 * `portcullis check --config FILE`: validate a configuration without starting
 * anything, for editors, pre-commit hooks and CI.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { formatProblems, loadConfig } from '../config/load.ts'
import type { GatewayConfig } from '../config/schema.ts'
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
When it is valid, prints "FILE: ok" and exits 0; warnings (an empty file,
no routes) go to stderr as "FILE: warning: ...". Otherwise prints every
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
  const warnings = configWarnings(values.config, result.config)
  for (const w of warnings) printError(`${values.config}: warning: ${w}`)
  const noted = warnings.length === 0 ? '' : ` (${warnings.length} warning${warnings.length > 1 ? 's' : ''})`
  printOut(`${values.config}: ok${noted}`)
  return EXIT_OK
}

/**
 * configWarnings: a valid configuration that most likely is not what its
 * author meant (exit status stays 0). An empty file is valid (every key has
 * a default) and a gateway with no route answers every request 404.
 */
function configWarnings(file: string, config: GatewayConfig): string[] {
  if (isEmpty(file))
    return [
      'the file is empty; the defaults apply: listening on 127.0.0.1:8080 with no routes (every request gets 404)',
    ]
  if (config.routes.length === 0 && config.forward === undefined && config.listen.length > 0)
    return ['no routes: every request will be answered 404 (add one under routes:)']
  return []
}

/** isEmpty: nothing but blank lines, comments and YAML document markers. */
function isEmpty(file: string): boolean {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .every((line) => /^\s*(#.*)?$/.test(line) || /^(---|\.\.\.)\s*$/.test(line))
  } catch {
    return false
  }
}
