/**
 * The error log: the gateway's own events (start-up, reloads, shutdown,
 * worker restarts, upstream and policy failures), one per line. JSON (pino)
 * for machines, or a human-readable line (`12:03:04.512 ERROR message
 * key=value …`) on a terminal. Lines are written synchronously, as
 * process.stderr writes are: events are rare until something breaks, and
 * then they should arrive, in order with the command line's own lines on
 * stderr, even if the process dies next. log-files.ts reopens the file on
 * SIGUSR1.
 *
 * Fields are data the gateway produced (codes, addresses, ids, errno); header
 * values, bodies and query strings are never logged, so neither are
 * credentials or tokens.
 */
import pino from 'pino'
import type { LogConfig, LogLevel } from '../config/log-schema.ts'
import { closeLogDestination, type LogDestination, openLogDestination } from './log-files.ts'
import { prettyLine } from './pretty-line.ts'

/** The levels an event may be logged at. */
export type EventLevel = Exclude<LogLevel, 'silent'>

export type LogFields = Record<string, unknown>

export class ErrorLog {
  #config: LogConfig
  readonly #base: LogFields
  #destination!: LogDestination
  #logger!: pino.Logger
  #pretty = false

  /** Logs as `config` says; `base` fields go on every line (e.g. `{ worker: 3 }`). */
  constructor(config: LogConfig, base: LogFields = {}) {
    this.#config = config
    this.#base = base
    this.#open()
  }

  /** Lines are human-readable (pretty) rather than JSON. */
  get pretty(): boolean {
    return this.#pretty
  }

  /** Lines go to stderr (no `file`): the command line then need not print its own copy of an event. */
  get toStderr(): boolean {
    return this.#config.file === undefined
  }

  /** enabled says whether a `level` event would be written. */
  enabled(level: EventLevel): boolean {
    return this.#logger.isLevelEnabled(level)
  }

  /** log writes one event: `msg` for people, `fields` for machines (and the pretty line's key=value). */
  log(level: EventLevel, msg: string, fields?: LogFields): void {
    if (!this.#logger.isLevelEnabled(level)) return
    if (fields === undefined) this.#logger[level](msg)
    else this.#logger[level](fields, msg)
  }

  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields)
  }

  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields)
  }

  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields)
  }

  /**
   * configure applies a reloaded `log:`: a new level at once; a new file or
   * format opens a new destination (the old one is flushed and closed).
   */
  configure(config: LogConfig): void {
    const old = this.#config
    this.#config = config
    if (old.file === config.file && old.format === config.format) {
      this.#logger.level = config.level
      return
    }
    const previous = this.#destination
    this.#open()
    void closeLogDestination(previous)
  }

  /** close flushes and closes the destination. */
  close(): Promise<void> {
    return closeLogDestination(this.#destination)
  }

  #open(): void {
    const config = this.#config
    this.#destination = openLogDestination(config.file ?? 'stderr', 0, true)
    const tty = config.file === undefined && process.stderr.isTTY === true
    this.#pretty = config.format === undefined ? tty : config.format === 'pretty'
    const destination = this.#destination
    const colour = tty && this.#pretty && process.env.NO_COLOR === undefined
    const out: pino.DestinationStream = this.#pretty
      ? { write: (line: string) => destination.write(prettyLine(line, colour)) }
      : destination
    this.#logger = pino(
      {
        level: config.level,
        base: this.#base,
        timestamp: pino.stdTimeFunctions.isoTime,
        messageKey: 'msg',
        formatters: { level: (label: string) => ({ level: label }) },
      },
      out,
    )
  }
}
