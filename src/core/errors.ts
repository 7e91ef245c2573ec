/**
 * Errors as data. Every failure the gateway reports carries a stable `code`
 * (what users match on in logs and metrics), the side it came from, whether a
 * retry on another connection is safe, and the HTTP status it maps to. The
 * client sees the code and the request id, never `message` or a stack.
 */

export type ErrorSource = 'downstream' | 'upstream' | 'internal'

interface ErrorKind {
  readonly status: number
  readonly source: ErrorSource
  readonly retryable: boolean
}

/** The table of stable error codes. Adding is fine; renaming breaks users. */
export const ERROR_KINDS = {
  // The client sent something we will not forward (RFC 9112 framing, limits).
  MALFORMED_REQUEST: { status: 400, source: 'downstream', retryable: false },
  // Plain HTTP sent to a TLS listener (nginx: "The plain HTTP request was sent to HTTPS port").
  PLAIN_HTTP_ON_TLS: { status: 400, source: 'downstream', retryable: false },
  TARGET_TOO_LONG: { status: 414, source: 'downstream', retryable: false },
  HEAD_TOO_LARGE: { status: 431, source: 'downstream', retryable: false },
  TOO_MANY_HEADERS: { status: 431, source: 'downstream', retryable: false },
  BODY_TOO_LARGE: { status: 413, source: 'downstream', retryable: false },
  UNSUPPORTED_TRANSFER_CODING: { status: 501, source: 'downstream', retryable: false },
  HTTP_VERSION_NOT_SUPPORTED: { status: 505, source: 'downstream', retryable: false },
  HEAD_TIMEOUT: { status: 408, source: 'downstream', retryable: false },
  BODY_TIMEOUT: { status: 408, source: 'downstream', retryable: false },
  BODY_TOO_SLOW: { status: 408, source: 'downstream', retryable: false },
  TOO_MANY_UPLOADS: { status: 429, source: 'downstream', retryable: false },
  CLIENT_ABORTED: { status: 499, source: 'downstream', retryable: false },
  CLIENT_SEND_TIMEOUT: { status: 499, source: 'downstream', retryable: false },
  // Routing.
  NO_ROUTE: { status: 404, source: 'internal', retryable: false },
  // The upstream failed us.
  UPSTREAM_CONNECT_REFUSED: { status: 502, source: 'upstream', retryable: true },
  UPSTREAM_CONNECT_FAILED: { status: 502, source: 'upstream', retryable: true },
  UPSTREAM_CONNECT_TIMEOUT: { status: 504, source: 'upstream', retryable: true },
  UPSTREAM_RESET: { status: 502, source: 'upstream', retryable: false },
  UPSTREAM_INVALID_RESPONSE: { status: 502, source: 'upstream', retryable: false },
  UPSTREAM_RESPONSE_TIMEOUT: { status: 504, source: 'upstream', retryable: false },
  UPSTREAM_IDLE_TIMEOUT: { status: 504, source: 'upstream', retryable: false },
  UPSTREAM_QUEUE_TIMEOUT: { status: 503, source: 'upstream', retryable: false },
  NO_HEALTHY_UPSTREAM: { status: 503, source: 'upstream', retryable: false },
  // The upstream has targets but none may take requests (health checks, ejections; panic mode off).
  NO_HEALTHY_TARGET: { status: 503, source: 'upstream', retryable: false },
  // Resilience (src/upstream/circuit, src/upstream/retry): a tripped limit or breaker answers at once.
  UPSTREAM_OVERFLOW_PENDING: { status: 503, source: 'upstream', retryable: false },
  UPSTREAM_OVERFLOW_REQUESTS: { status: 503, source: 'upstream', retryable: false },
  CIRCUIT_OPEN: { status: 503, source: 'upstream', retryable: false },
  UPSTREAM_TRY_TIMEOUT: { status: 504, source: 'upstream', retryable: false },
  UPSTREAM_REQUEST_TIMEOUT: { status: 504, source: 'upstream', retryable: false },
  // A hedged try that lost the race (reported to observers and channels, never to a client).
  UPSTREAM_TRY_CANCELLED: { status: 499, source: 'internal', retryable: false },
  // Policies (src/modules): authentication, access, rate and concurrency limits.
  UNAUTHENTICATED: { status: 401, source: 'downstream', retryable: false },
  FORBIDDEN: { status: 403, source: 'downstream', retryable: false },
  RATE_LIMITED: { status: 429, source: 'downstream', retryable: false },
  RATE_LIMIT_UNAVAILABLE: { status: 503, source: 'internal', retryable: false },
  CONCURRENCY_LIMITED: { status: 503, source: 'downstream', retryable: false },
  AUTH_UNAVAILABLE: { status: 503, source: 'internal', retryable: false },
  // The forward proxy (src/forward): proxy authentication (RFC 9110 §15.5.8), refused destinations.
  PROXY_AUTH_REQUIRED: { status: 407, source: 'downstream', retryable: false },
  DESTINATION_FORBIDDEN: { status: 403, source: 'downstream', retryable: false },
  // TLS interception of a CONNECT (src/forward/mitm/intercept.ts) that failed after its 200, so
  // the status is never sent: the client sent no TLS handshake record, its handshake failed (the
  // cause is OpenSSL's: a client refusing our CA, no shared cipher, …) or did not finish in time.
  NOT_TLS: { status: 400, source: 'downstream', retryable: false },
  TLS_HANDSHAKE_FAILED: { status: 400, source: 'downstream', retryable: false },
  TLS_HANDSHAKE_TIMEOUT: { status: 408, source: 'downstream', retryable: false },
  // A relayed WebSocket (src/proxy/websocket-relay.ts, only with onWebSocketMessage hooks) closed
  // with 1002/1007 or 1009; after the 101, so the status is never sent. The message says which side.
  WEBSOCKET_PROTOCOL_ERROR: { status: 400, source: 'downstream', retryable: false },
  WEBSOCKET_MESSAGE_TOO_LARGE: { status: 413, source: 'downstream', retryable: false },
  // Our own fault or a hook's.
  HOOK_FAILED: { status: 500, source: 'internal', retryable: false },
  INTERNAL_ERROR: { status: 500, source: 'internal', retryable: false },
} as const satisfies Record<string, ErrorKind>

export type ErrorCode = keyof typeof ERROR_KINDS

/**
 * GatewayError is the one error type that crosses module boundaries.
 * `message` is for operators (logs); clients only ever see `code`.
 */
export class GatewayError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly source: ErrorSource
  readonly retryable: boolean

  constructor(code: ErrorCode, message: string = code, options?: { cause?: unknown }) {
    super(message, options)
    const kind: ErrorKind = ERROR_KINDS[code]
    this.name = 'GatewayError'
    this.code = code
    this.status = kind.status
    this.source = kind.source
    this.retryable = kind.retryable
  }
}

/** toGatewayError wraps anything thrown into a GatewayError, keeping the cause for logs. */
export function toGatewayError(err: unknown, fallback: ErrorCode = 'INTERNAL_ERROR'): GatewayError {
  if (err instanceof GatewayError) return err
  return new GatewayError(fallback, err instanceof Error ? err.message : String(err), { cause: err })
}
