/**
 * The command line's status lines ("portcullis listening on …", "configuration
 * reloaded", "SIGTERM received; draining …") are also events of the error
 * log. Each is said once wherever it is read:
 *
 * - log to a file: the event goes there, the plain line to stderr as before
 *   (scripts and process managers wait for those lines);
 * - pretty log on stderr (a terminal): the pretty line only;
 * - JSON log on stderr: the plain line only, as before; a JSON copy beside
 *   it would say everything twice on the same stream.
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
  if (log !== undefined && !(log.toStderr && !log.pretty)) {
    log.log(level, logMsg, detail === undefined ? fields : { ...fields, problems: detail })
    if (log.toStderr && log.enabled(level)) return
  }
  if (detail !== undefined) printError(detail)
  printError(msg)
}
