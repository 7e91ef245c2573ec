/**
 * A degraded rate limit leaves a log line and a count (STYLE.md: a degraded
 * mode always does both). Every store failure is published on
 * `portcullis:rate-limit:store-failure` with the running count of this
 * limit's failures (in this worker); a line goes to the log at the first
 * failure and then at most every 10 s while failures last, with how many
 * there were, and one more when the store answers again.
 */
import diagnostics from 'node:diagnostics_channel'
import { StoreError } from '../../store/errors.ts'

/** Published for each failed decision, with the mode that decided the request. */
export interface RateLimitFailureMessage {
  route: string
  limit: string
  failMode: 'open' | 'closed'
  /** This limit's failures so far in this worker (a counter for metrics). */
  count: number
  error: unknown
}

export const rateLimitFailureChannel = diagnostics.channel('portcullis:rate-limit:store-failure')

const LOG_EVERY_MS = 10_000

/** Where the lines go; stderr unless replaced (setRateLimitLog). */
let log: (line: string) => void = (line) => void process.stderr.write(`${line}\n`)

/** setRateLimitLog replaces the log writer (embedding, tests); returns the previous one. */
export function setRateLimitLog(writer: (line: string) => void): (line: string) => void {
  const previous = log
  log = writer
  return previous
}

/** One limit's failure state in this worker. */
export class FailureCounter {
  count = 0
  #unlogged = 0
  #lastLog = -Infinity
  #failing = false

  /** failed counts a failure, publishes it, and logs when due. */
  failed(route: string, limit: string, failMode: 'open' | 'closed', error: unknown): void {
    this.count++
    this.#unlogged++
    this.#failing = true
    if (rateLimitFailureChannel.hasSubscribers)
      rateLimitFailureChannel.publish({
        route,
        limit,
        failMode,
        count: this.count,
        error,
      } satisfies RateLimitFailureMessage)
    const now = performance.now()
    if (now - this.#lastLog < LOG_EVERY_MS) return
    const code = error instanceof StoreError ? error.code : 'STORE_ERROR'
    log(
      `portcullis: rate limit ${limit} (route ${route}): store failed (${code}), failing ${failMode}; ` +
        `${this.#unlogged} failure(s) since the last line, ${this.count} in all`,
    )
    this.#unlogged = 0
    this.#lastLog = now
  }

  /** succeeded notes a decision that worked; the first after failures is logged. */
  succeeded(route: string, limit: string): void {
    if (!this.#failing) return
    this.#failing = false
    log(
      `portcullis: rate limit ${limit} (route ${route}): store answers again after ${this.count} failure(s)`,
    )
    this.#lastLog = -Infinity
    this.#unlogged = 0
  }
}
