/**
 * ConnectionHost: what a client connection needs from the server that
 * accepted it. The gateway implements it; connections never import the gateway.
 */
import type { DownstreamConnection } from './downstream.ts'
import type { Runtime } from './runtime.ts'

export interface ConnectionHost {
  /** The runtime new requests use (it changes on reload). */
  readonly runtime: Runtime
  /** True once shutdown began: responses say Connection: close. */
  readonly draining: boolean
  onConnectionClosed(conn: DownstreamConnection): void
}
