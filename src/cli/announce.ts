/**
 * The command line's status lines ("portcullis listening on …", "configuration
 * reloaded", "SIGTERM received; draining …") are also events of the error
 * log. announce writes both: the event to the log, and the plain line to
 * stderr as before (scripts and process managers wait for those lines) —
 * except when the log itself prints pretty lines on stderr, where the plain
 * line would say the same thing twice.
 */
import type { EventLevel, ErrorLog, LogFields } from '../observe/error-log.ts'
import { printError } from './command.ts'

let current: ErrorLog | undefined

/** useLog makes `log` the one announce writes to (set by `serve` for the process's life). */
export function useLog(log: ErrorLog | undefined): void {
  current = log
}

/**
 * announce reports one event: `msg` as the status line, `fields` for the
 * log. `detail` (e.g. a refused reload's problems, several lines) is printed
 * before the status line and logged as the field `problems`. `logMsg` is the
 * log's message when it differs from the line (its details being in `fields`).
 */
export function announce(
  level: EventLevel,
  msg: string,
  fields?: LogFields,
  detail?: string,
  logMsg: string = msg.replace(/^portcullis: /, ''),
): void {
  const log = current
  const logged = detail === undefined ? fields : { ...fields, problems: detail }
  log?.log(level, logMsg, logged)
  if (log !== undefined && log.pretty && log.toStderr && log.enabled(level)) return
  if (detail !== undefined) printError(detail)
  printError(msg)
}
