/**
 * The access log: one JSON line per request, written by pino through an
 * asynchronous destination. It subscribes to the request-end diagnostics
 * channel, so a gateway without an access log pays nothing for it.
 *
 * Lines are held until `buffer` bytes wait (one write for many lines under
 * load) or the oldest has waited `flushInterval`, whichever comes first: a
 * quiet gateway's line arrives within that interval, a busy one pays one
 * timer per interval. What is held is flushed on close and, synchronously,
 * when the process exits (log-files.ts); files reopen on SIGUSR1.
 */
import pino from 'pino'
import type { AccessLogConfig } from '../config/log-schema.ts'
import type { Session } from '../core/session.ts'
import { type RequestEndMessage, requestEndChannel } from './channels.ts'
import { closeLogDestination, type LogDestination, openLogDestination } from './log-files.ts'

export class AccessLog {
  private readonly config: AccessLogConfig
  private readonly destination: LogDestination
  private readonly logger: pino.Logger
  private readonly listener: (message: unknown) => void
  /** Set while lines wait for the interval flush. */
  private timer: NodeJS.Timeout | undefined = undefined
  private readonly flushHeld = (): void => this.flushNow()

  /** Logs requests of `gateway` as `config` says (`path`: `stdout`, `stderr` or a file). */
  constructor(gateway: object, config: AccessLogConfig) {
    this.config = config
    this.destination = openLogDestination(config.path, config.buffer)
    this.logger = pino(
      {
        base: null,
        timestamp: pino.stdTimeFunctions.isoTime,
        messageKey: 'msg',
        formatters: { level: (label: string) => ({ level: label }) },
      },
      this.destination,
    )
    const holds = config.buffer > 0
    this.listener = (message) => {
      const m = message as RequestEndMessage
      if (m.gateway !== gateway) return
      this.logger.info(accessRecord(m.session))
      if (holds && this.timer === undefined && this.destination._len > 0)
        this.timer = setTimeout(this.flushHeld, this.config.flushInterval).unref()
    }
    requestEndChannel.subscribe(this.listener)
  }

  sameAs(config: AccessLogConfig): boolean {
    const c = this.config
    return (
      config.enabled &&
      config.path === c.path &&
      config.buffer === c.buffer &&
      config.flushInterval === c.flushInterval
    )
  }

  /** flushNow writes what is held; a write in flight is let finish and the rest written just after. */
  private flushNow(): void {
    this.timer = undefined
    const d = this.destination
    if (d._len === 0) return
    if (d._writing) this.timer = setTimeout(this.flushHeld, 10).unref()
    else d.flush()
  }

  /** close unsubscribes and flushes what is buffered. */
  async close(): Promise<void> {
    requestEndChannel.unsubscribe(this.listener)
    clearTimeout(this.timer)
    this.timer = undefined
    await closeLogDestination(this.destination)
  }
}

/** accessRecord is the logged shape of a session; field names are part of the log contract. */
export function accessRecord(s: Session): Record<string, unknown> {
  const t = s.timings
  return {
    requestId: s.id,
    traceId: s.traceId,
    client: s.clientAddress,
    method: s.method,
    host: s.head.host,
    path: s.path,
    status: s.status,
    bytesIn: s.bytesIn,
    bytesOut: s.bytesOut,
    route: s.route?.name,
    upstream: s.target,
    attempts: s.attempts || undefined,
    error: s.error?.code,
    durationMs: round(t.end),
    upstreamConnectMs: t.upstreamConnected ? round(t.upstreamConnected) : undefined,
    upstreamHeadMs: t.upstreamHead ? round(t.upstreamHead) : undefined,
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
