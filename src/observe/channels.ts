/**
 * Diagnostics channels the core publishes on. Metrics, the access log and
 * tracing subscribe; with no subscriber a publish costs one boolean check
 * (`hasSubscribers`), so the core never calls observers directly.
 */
import diagnostics from 'node:diagnostics_channel'
import type { ErrorCode, GatewayError } from '../core/errors.ts'
import type { Session } from '../core/session.ts'

/** Published once per request after its last byte (or its failure). */
export interface RequestEndMessage {
  /** The gateway instance that served it, so one process can host several. */
  gateway: object
  session: Session
}

export const requestEndChannel = diagnostics.channel('portcullis:request:end')

/**
 * Published when one try of a request on an upstream target ends: with the
 * response status once the response is complete (or switched protocols), or
 * with the error's code and cause when it failed. A request retried on
 * another connection or target publishes one message per try.
 */
export interface UpstreamTryMessage {
  gateway: object
  session: Session
  upstream: string
  /** The target's origin, `scheme://host:port`. */
  target: string
  /** 0 when no response head arrived. */
  status: number
  /** The stable error code when the try failed. */
  code: ErrorCode | undefined
  /** The failure, with its `cause` (errno, TLS verify reason, DNS error), for operators' logs. */
  error: GatewayError | undefined
  /** Milliseconds from the target's pick to the try's end. */
  ms: number
  /** 1 for the first try. */
  attempt: number
}

export const upstreamTryChannel = diagnostics.channel('portcullis:upstream:try')

/** Published when the gateway opens a connection to a target. */
export interface UpstreamConnectMessage {
  gateway: object
  target: string
}

export const upstreamConnectChannel = diagnostics.channel('portcullis:upstream:connect')

/**
 * Published when a target's health state changes (src/upstream/health):
 * marked down or up by active checks, ejected or back by passive checks,
 * and when the upstream enters or leaves panic mode.
 */
export interface UpstreamHealthMessage {
  gateway: object
  upstream: string
  /** The target's origin, `scheme://host:port`. */
  target: string
  /** What happened. */
  event: 'down' | 'up' | 'ejected' | 'returned' | 'panic' | 'calm'
  /** The target's state after the change (see Target: healthy, ejectedUntil, ejections, consecutiveFailures). */
  healthy: boolean
  ejectedUntil: number
  ejections: number
  consecutiveFailures: number
  /** The upstream is in panic mode after the change. */
  panic: boolean
  /** Why, for logs (a probe's failure, the failures that ejected it). */
  reason: string
}

export const upstreamHealthChannel = diagnostics.channel('portcullis:upstream:health')

/**
 * Published when a target's circuit breaker changes state (src/upstream/circuit):
 * `open` (failures reached the ratio), `half-open` (probes may go), `closed`
 * (the probes succeeded); also when half-open probe slots fill or free.
 */
export interface CircuitStateMessage {
  upstream: string
  /** The target's origin, `scheme://host:port`. */
  target: string
  state: 'closed' | 'open' | 'half-open'
  /** While open: when it turns half-open (performance.now() ms). */
  openUntil: number
  /** Probe tries in progress while half-open. */
  probes: number
  /** Tries and failures in the breaker's rolling window after the change. */
  tries: number
  failures: number
}

export const circuitStateChannel = diagnostics.channel('portcullis:upstream:circuit')

/** Published when a TLS handshake on a listener ends: `ok` false when it failed (tlsClientError). */
export interface TlsHandshakeMessage {
  gateway: object
  ok: boolean
}

export const tlsHandshakeChannel = diagnostics.channel('portcullis:tls:handshake')

/**
 * Published when an upstream's resource limit refuses something
 * (src/upstream/circuit/limits.ts): a request beyond `limits.maxPending` or
 * `limits.maxRequests` (answered 503), or a retry beyond `limits.maxRetries`
 * or the retry budget (the failure is answered instead).
 */
export interface UpstreamOverflowMessage {
  upstream: string
  limit: 'pending' | 'requests' | 'retries'
  /** The limit's overflow counter after this one. */
  count: number
}

export const upstreamOverflowChannel = diagnostics.channel('portcullis:upstream:overflow')

/**
 * Published once when the TLS interception of a CONNECT fails
 * (forward/mitm/intercept.ts): the client sent no TLS handshake record, its
 * handshake failed or timed out, it left mid-way, or its leaf could not be
 * made. `session` is the CONNECT's (answered 200, its `destination` the
 * intercepted host); `error` is also its `session.error`. Successful
 * interceptions publish nothing.
 */
export interface InterceptFailureMessage {
  gateway: object
  session: Session
  error: GatewayError
}

export const interceptFailureChannel = diagnostics.channel('portcullis:mitm:failure')
