/**
 * What proxying needs from the client connection and from the runtime a
 * request started under, declared here so that proxy/ does not import
 * server/ (which imports proxy/): server/downstream.ts and
 * server/runtime.ts implement them.
 */
import type { GatewayConfig } from '../config/schema.ts'
import type { Deadlines } from '../core/deadlines.ts'
import type { GatewayError } from '../core/errors.ts'
import type { CompiledRoute } from '../routing/router.ts'
import type { ForwardingPolicy } from './forwarding.ts'
import type { ClientSink } from './response-writer.ts'

/** The client connection, as an exchange and a tunnel use it. */
export interface ClientSide extends ClientSink {
  /** The current response closes the connection. */
  closeAfter: boolean
  /** True while the bytes of one client read are being handled (see ProxyExchange.onClientReadEnd). */
  readonly reading: boolean
  resumeReading(): void
  /** Whether the response about to be sent ends the connection. */
  closingAfterResponse(): boolean
  /** Called once the last response byte was written. */
  responseComplete(): void
  /** Answers a failed request whose response has not started. */
  respondError(err: GatewayError): void
  /** Ends a response that cannot be completed: close, never a truncated success. */
  abortResponse(err: GatewayError): void
  /** Marks the bytes of the current read as kept beyond it. */
  lend(): void
  /** Stops HTTP handling after a 101; later client bytes go to `sink`; returns unread bytes. */
  detachForTunnel(sink: (data: Buffer) => void): Buffer | null
}

/** The runtime (one configuration's compiled state) an exchange runs under. */
export interface ExchangeRuntime {
  /** The gateway instance, as published on diagnostics channels. */
  readonly owner: object
  readonly config: GatewayConfig
  readonly deadlines: Deadlines
  readonly policy: ForwardingPolicy
  /** The forwarding policy of a route: the global one, or with the route's own overrides. */
  policyFor(route: CompiledRoute): ForwardingPolicy
}
