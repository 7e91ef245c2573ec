/**
 * `--log-level LEVEL` on `start`, `proxy` and `forward`: the least severe
 * error log level written, over `log.level` of the configuration.
 */
import { LOG_LEVELS, type LogLevel } from '../config/log-schema.ts'
import { UsageError } from './command.ts'

/** The help text line of the flag, aligned as the commands' other options. */
export const LOG_LEVEL_HELP = `      --log-level LEVEL    error log level: fatal, error, warn, info
                           (default), debug, trace or silent`

/** parseLogLevel reads `--log-level`; undefined when absent. */
export function parseLogLevel(command: string, text: string | undefined): LogLevel | undefined {
  if (text === undefined) return undefined
  const level = text.toLowerCase()
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel
  throw new UsageError(command, `--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${text}'`)
}
