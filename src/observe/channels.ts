/**
 * Diagnostics channels the core publishes on. Metrics, the access log and
 * tracing subscribe; with no subscriber a publish costs one boolean check
 * (`hasSubscribers`), so the core never calls observers directly.
 */
import diagnostics from 'node:diagnostics_channel'
import type { Session } from '../core/session.ts'

/** Published once per request after its last byte (or its failure). */
export interface RequestEndMessage {
  /** The gateway instance that served it, so one process can host several. */
  gateway: object
  session: Session
}

export const requestEndChannel = diagnostics.channel('portcullis:request:end')

/** Published when the gateway opens a connection to a target. */
export interface UpstreamConnectMessage {
  gateway: object
  target: string
}

export const upstreamConnectChannel = diagnostics.channel('portcullis:upstream:connect')
