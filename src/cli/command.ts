/**
 * What every `portcullis` subcommand provides, and the small helpers they
 * share: output, usage errors, flag parsing.
 */

/** One subcommand of the `portcullis` binary. */
export interface Command {
  name: string
  /** One line, shown in `portcullis --help`. */
  summary: string
  /** The full text printed by `portcullis NAME --help`. */
  help: string
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(args: string[]): Promise<number>
}

/** Exit codes, as CONTRACT.md fixes them. */
export const EXIT_OK = 0
export const EXIT_USAGE = 1
export const EXIT_RUNTIME = 2

/**
 * UsageError is a mistake on the command line (unknown flag, missing value).
 * `main` prints it with a pointer to the command's help and exits 1.
 */
export class UsageError extends Error {
  readonly code = 'PORTCULLIS_USAGE'
  readonly command: string | undefined

  constructor(command: string | undefined, message: string) {
    super(message)
    this.name = 'UsageError'
    this.command = command
  }
}

/** printOut writes one line (or several) to stdout. */
export function printOut(text: string): void {
  process.stdout.write(`${text}\n`)
}

/** printError writes one line (or several) to stderr. */
export function printError(text: string): void {
  process.stderr.write(`${text}\n`)
}

/**
 * parseOrUsage runs a `node:util` parseArgs call and turns its errors into
 * `UsageError`s with short messages; any other error is rethrown.
 */
export function parseOrUsage<T>(command: string, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) throw err
    throw new UsageError(command, shortParseMessage(code, (err as Error).message))
  }
}

function shortParseMessage(code: string, message: string): string {
  const quoted = /'([^']*)'/.exec(message)?.[1]
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) return `unknown option '${quoted}'`
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && quoted) return `unexpected argument '${quoted}'`
  return message.charAt(0).toLowerCase() + message.slice(1)
}
