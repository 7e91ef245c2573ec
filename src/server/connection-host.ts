/**
 * ConnectionHost: what a client connection needs from the server that
 * accepted it. The gateway implements it; connections never import the gateway.
 */
import type { Session } from '../core/session.ts'
import type { TargetForms } from '../http1/request-head.ts'
import type { DownstreamConnection } from './downstream.ts'
import type { Runtime } from './runtime.ts'

/**
 * A door requests come through other than a reverse-proxy listener (the
 * forward proxy, intercepted TLS): the request-target forms it reads and
 * the phases it runs instead of routing (server/forward-door.ts).
 */
export interface Entry {
  readonly forms: TargetForms
  readonly run: (client: DownstreamConnection, rt: Runtime, session: Session) => void
}

export interface ConnectionHost {
  /** The runtime new requests use (it changes on reload). */
  readonly runtime: Runtime
  /** True once shutdown began: responses say Connection: close. */
  readonly draining: boolean
  /** Undefined for reverse-proxy listeners: the usual phases (phases.ts). */
  readonly entry?: Entry
  onConnectionClosed(conn: DownstreamConnection): void
}
