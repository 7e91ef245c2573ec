/**
 * What the error log says about a failed upstream try: the stable code, and
 * the cause an operator can act on, taken from the error's `cause` chain
 * (upstream/connection.ts keeps the socket's error there):
 *
 * - errno: `connect ECONNREFUSED 127.0.0.1:3001`, `read ECONNRESET`
 * - TLS verification: `certificate verify failed: DEPTH_ZERO_SELF_SIGNED_CERT / self-signed certificate for 127.0.0.1:3443`
 * - DNS: `DNS lookup failed: ENOTFOUND api.example.invalid`
 * - timeouts (no cause; the code is the kind): `response timeout after 60000 ms`
 */
import type { GatewayError } from '../core/errors.ts'
import type { UpstreamTryMessage } from './channels.ts'

/**
 * OpenSSL's X.509 verification results as Node names them (the `code` of the
 * socket's error when `rejectUnauthorized` refuses a certificate), plus
 * Node's own name check (RFC 6125 via tls.checkServerIdentity).
 */
const VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/** getaddrinfo's failures (Node's dns codes). */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'ENODATA', 'EAI_NONAME'])

/** The timeout codes and the kind each names. */
const TIMEOUT_KINDS: Partial<Record<string, string>> = {
  UPSTREAM_CONNECT_TIMEOUT: 'connect',
  UPSTREAM_RESPONSE_TIMEOUT: 'response',
  UPSTREAM_IDLE_TIMEOUT: 'idle',
  UPSTREAM_QUEUE_TIMEOUT: 'queue',
}

/** A failure's cause, as the log shows it. */
export interface FailureCause {
  /** One line an operator reads. */
  cause: string
  /** The errno or OpenSSL code when there is one (`ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`). */
  errno?: string
  /** For timeouts: `connect`, `response`, `idle` or `queue`. */
  timeout?: string
  /** What failed, when the code alone says less (`certificate verify failed`, `DNS lookup failed`). */
  what?: string
}

/** describeCause explains `err` of a try on `target` (`scheme://host:port`) that lasted `ms`. */
export function describeCause(err: GatewayError, target: string, ms: number): FailureCause {
  const timeout = TIMEOUT_KINDS[err.code]
  if (timeout !== undefined) return { cause: `${timeout} timeout after ${Math.round(ms)} ms`, timeout }
  const root = rootCause(err)
  if (root === undefined) return { cause: err.message }
  const code = typeof root.code === 'string' ? root.code : undefined
  const message = root.message
  if (code !== undefined && VERIFY_CODES.has(code))
    // Node's hint after ';' (--use-system-ca) is about its own client, not the gateway's upstreams.tls.ca.
    return tagged(
      'certificate verify failed',
      `${code} / ${message.split(';')[0]} for ${hostPort(target)}`,
      code,
    )
  if (code !== undefined && DNS_CODES.has(code))
    return tagged('DNS lookup failed', `${code} ${root.hostname ?? hostPort(target)}`, code)
  if (code?.startsWith('ERR_SSL_') || code?.startsWith('ERR_TLS_'))
    return tagged('TLS handshake failed', `${code} / ${message} with ${hostPort(target)}`, code)
  if (code === undefined) return { cause: message || err.message }
  return { cause: message.includes(code) ? message : `${code} ${message}`, errno: code }
}

function tagged(what: string, detail: string, errno: string): FailureCause {
  return { cause: `${what}: ${detail}`, errno, what }
}

interface CauseError {
  message: string
  code?: unknown
  hostname?: string
}

/** rootCause is the innermost error of the `cause` chain below `err` (bounded: chains may loop). */
function rootCause(err: Error): CauseError | undefined {
  let found: CauseError | undefined
  let next: unknown = err.cause
  for (let depth = 0; depth < 8 && next instanceof Error; depth++) {
    found = next as unknown as CauseError
    next = next.cause
  }
  return found
}

function hostPort(target: string): string {
  try {
    return new URL(target).host
  } catch {
    return target
  }
}

/**
 * upstreamFailureEvent is the error log's event for a failed try: its
 * message (`upstream connect refused`), level, and fields. Undefined for
 * tries that did not fail on the upstream's side (a client that left).
 */
export function upstreamFailureEvent(
  m: UpstreamTryMessage,
  traceId: string | undefined = m.session.traceId,
): { level: 'error'; msg: string; fields: Record<string, unknown> } | undefined {
  const err = m.error
  if (err === undefined || err.source === 'downstream') return undefined
  const s = m.session
  const { cause, errno, timeout, what } = describeCause(err, m.target, m.ms)
  return {
    level: 'error',
    msg: `upstream ${
      what ??
      err.code
        .replace(/^UPSTREAM_/, '')
        .toLowerCase()
        .replace(/_/g, ' ')
    }`,
    fields: {
      code: err.code,
      cause,
      errno,
      timeout,
      target: m.target,
      upstream: m.upstream,
      route: s.route?.name,
      method: s.method,
      // The path only: a query string may carry tokens.
      path: s.path,
      requestId: s.id,
      traceId,
      attempt: m.attempt,
      ms: Math.round(m.ms),
    },
  }
}
