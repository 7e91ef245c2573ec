/**
 * Test helpers for health: wait for a `portcullis:upstream:health` event
 * (so tests follow state changes, never sleep for them), and a gateway with
 * one upstream `origin` whose `health:` is given.
 */
import diagnostics from 'node:diagnostics_channel'
import type { UpstreamHealthMessage } from '../../src/observe/channels.ts'
import type { GatewayConfigInput } from '../../src/config/schema.ts'

/** HealthEvents records every health event while it lives; `next` waits for a matching one. */
export class HealthEvents {
  readonly all: UpstreamHealthMessage[] = []
  /** When each message arrived (Date.now()), in the publishing call itself. */
  readonly at = new Map<UpstreamHealthMessage, number>()
  private waiters: {
    match: (m: UpstreamHealthMessage) => boolean
    resolve: (m: UpstreamHealthMessage) => void
  }[] = []
  private readonly onMessage = (m: unknown) => {
    const msg = m as UpstreamHealthMessage
    this.at.set(msg, Date.now())
    this.all.push(msg)
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(msg)) return true
      w.resolve(msg)
      return false
    })
  }

  constructor(t: { after(fn: () => unknown): void }) {
    diagnostics.subscribe('portcullis:upstream:health', this.onMessage)
    t.after(() => diagnostics.unsubscribe('portcullis:upstream:health', this.onMessage))
  }

  /** next resolves with the first event from now on for `target` (an origin URL) with `event`; rejects after `ms`. */
  next(target: string, event: UpstreamHealthMessage['event'], ms = 15_000): Promise<UpstreamHealthMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${event} event for ${target} in ${ms} ms`)), ms)
      this.waiters.push({
        match: (m) => m.target === target && m.event === event,
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m)
        },
      })
    })
  }
}

/** healthConfig: one upstream `origin` over `urls` with `health` (and other `upstream` keys), one catch-all route. */
export function healthConfig(
  urls: readonly string[],
  health: Record<string, unknown>,
  upstream: Record<string, unknown> = {},
): GatewayConfigInput {
  return {
    upstreams: { origin: { targets: urls.map((url) => ({ url })), health, ...upstream } },
    routes: [{ match: {}, upstream: 'origin' }],
  } as GatewayConfigInput
}
