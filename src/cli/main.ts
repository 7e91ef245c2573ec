/**
 * The `portcullis` command line: global flags and dispatch to subcommands.
 */
import { readFileSync } from 'node:fs'
import { nearest } from '../config/schema.ts'
import { check } from './check.ts'
import {
  type Command,
  EXIT_OK,
  EXIT_RUNTIME,
  EXIT_USAGE,
  printError,
  printOut,
  UsageError,
} from './command.ts'
import { ca } from './ca.ts'
import { forward } from './forward.ts'
import { proxy } from './proxy.ts'
import { reload } from './reload-command.ts'
import { start } from './start.ts'

const COMMANDS: readonly Command[] = [start, proxy, check, reload, forward, ca]

/**
 * main runs the command line `argv` (without the node and script paths) and
 * resolves to the exit code: 0 success, 1 usage or configuration error,
 * 2 runtime failure. For `start` and `proxy` it resolves only once the
 * gateway has been stopped by a signal.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv
  if (first === undefined) {
    printError(globalHelp())
    return EXIT_USAGE
  }
  if (first === '--help' || first === '-h') return printed(globalHelp())
  if (first === '--version' || first === 'version') return printed(version())
  if (first === 'help') return help(rest[0])
  const command = COMMANDS.find((c) => c.name === first)
  if (!command) return usageError(new UsageError(undefined, unknownCommand(first)))
  if (wantsHelp(rest)) return printed(command.help)
  try {
    return await command.run(rest)
  } catch (err) {
    if (err instanceof UsageError) return usageError(err)
    printError(`portcullis ${command.name}: ${err instanceof Error ? err.message : String(err)}`)
    return EXIT_RUNTIME
  }
}

function help(name: string | undefined): number {
  if (name === undefined) return printed(globalHelp())
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) return usageError(new UsageError(undefined, unknownCommand(name)))
  return printed(command.help)
}

/** wantsHelp finds -h/--help among a command's flags (not after `--`). */
function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--')
  const flags = end === -1 ? args : args.slice(0, end)
  return flags.includes('--help') || flags.includes('-h')
}

function printed(text: string): number {
  printOut(text)
  return EXIT_OK
}

function usageError(err: UsageError): number {
  const who = err.command ? `portcullis ${err.command}` : 'portcullis'
  printError(`${who}: ${err.message}`)
  printError(`Run '${who} --help' for usage.`)
  return EXIT_USAGE
}

function unknownCommand(name: string): string {
  const hint = nearest(
    name,
    COMMANDS.map((c) => c.name),
  )
  return `unknown command '${name}'${hint ? ` — did you mean '${hint}'?` : ''}`
}

function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}   ${c.summary}`)
  return `Usage: portcullis COMMAND [options]

Portcullis, an HTTP gateway: reverse proxy, API gateway and forward proxy.

Commands:
${lines.join('\n')}

Options:
  -h, --help   show help (also: portcullis COMMAND --help)
  --version    print the version

Examples:
  portcullis proxy --from 127.0.0.1:8080 --to http://127.0.0.1:3000
  portcullis check --config gateway.yaml
  portcullis start --config gateway.yaml`
}

/** version reads the version from package.json, the one source of truth. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}
