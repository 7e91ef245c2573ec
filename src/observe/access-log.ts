/**
 * The access log: one JSON line per request, written by pino through an
 * asynchronous destination. It subscribes to the request-end diagnostics
 * channel, so a gateway without an access log pays nothing for it.
 */
import pino from 'pino'
import type { Session } from '../core/session.ts'
import { type RequestEndMessage, requestEndChannel } from './channels.ts'

export class AccessLog {
  private readonly path: string
  private readonly destination: pino.DestinationStream & { flushSync?: () => void; end?: () => void }
  private readonly logger: pino.Logger
  private readonly listener: (message: unknown) => void

  /** Logs requests of `gateway` to `path` (`stdout`, `stderr` or a file). */
  constructor(gateway: object, path: string) {
    this.path = path
    const dest = path === 'stdout' ? 1 : path === 'stderr' ? 2 : path
    this.destination = pino.destination({ dest, sync: false, mkdir: true, minLength: 4096 })
    this.logger = pino(
      {
        base: null,
        timestamp: pino.stdTimeFunctions.isoTime,
        messageKey: 'msg',
        formatters: { level: (label: string) => ({ level: label }) },
      },
      this.destination,
    )
    this.listener = (message) => {
      const m = message as RequestEndMessage
      if (m.gateway === gateway) this.logger.info(accessRecord(m.session))
    }
    requestEndChannel.subscribe(this.listener)
  }

  sameAs(config: { enabled: boolean; path: string }): boolean {
    return config.enabled && config.path === this.path
  }

  /** close unsubscribes and flushes what is buffered. */
  async close(): Promise<void> {
    requestEndChannel.unsubscribe(this.listener)
    await new Promise<void>((resolve) => {
      const d = this.destination as unknown as { flush(cb: (err?: Error) => void): void }
      try {
        d.flush(() => resolve())
      } catch {
        resolve()
      }
    })
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
