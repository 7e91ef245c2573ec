/**
 * What the forward proxy needs from the client connection carrying a
 * request. The downstream connection (src/server/downstream.ts) implements
 * it; src/forward never imports the server.
 */
import type net from 'node:net'
import type { GatewayError } from '../core/errors.ts'
import type { GatewayResponse } from '../core/hooks.ts'
import type { Session } from '../core/session.ts'
import type { CompiledRoute } from '../routing/router.ts'
import type { Upstream } from '../upstream/upstream.ts'

/** The client side of a CONNECT tunnel. */
export interface TunnelClient {
  readonly socket: net.Socket
  /** Stops HTTP handling; later client bytes go to `sink`; returns bytes already read past the head. */
  detachForTunnel(sink: (data: Buffer) => void): Buffer | null
  /** Marks the bytes of the current read as kept beyond it (the sink queued them). */
  lend(): void
}

/** The client connection as the forward proxy's phases see it. */
export interface ForwardClient extends TunnelClient {
  /** The request the connection is serving now (another, or none, once the client left). */
  readonly current: Session | null
  /** The current response closes the connection. */
  closeAfter: boolean
  respond(res: GatewayResponse): void
  respondError(err: GatewayError): void
  /** proxy sends the request to `upstream` through the usual exchange. */
  proxy(session: Session, route: CompiledRoute, upstream: Upstream): void
}
