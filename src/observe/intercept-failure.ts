/**
 * What the error log says about a failed TLS interception of a CONNECT
 * (`portcullis:mitm:failure`, one line per connection): the stable code, and
 * why, from OpenSSL's error where there is one:
 *
 * - the client refused our certificate (`tlsv1 alert unknown ca`: it does
 *   not trust the local CA, or pins its host): info, as it is routine for an
 *   intercepting proxy (pinned apps, clients without the CA);
 * - the handshake failed otherwise (`no shared cipher`, `unsupported
 *   protocol`, `no application protocol`) or the client sent no TLS at all
 *   (NOT_TLS; a letter on a port not in `mitm.sniffPorts` is most likely
 *   plain HTTP): warn, something to change on one side;
 * - the client left mid-handshake or was too slow: info; before sending
 *   anything (a scanner, a benchmark's burst, a spare connection): debug;
 * - a leaf that could not be made: error, our own fault.
 *
 * Fields are data the gateway produced (the destination the client named,
 * its address, the CONNECT's request id); no header values, so never
 * Proxy-Authorization.
 */
import type { InterceptFailureMessage } from './channels.ts'
import type { EventLevel } from './error-log.ts'

/**
 * The alerts a client sends when it refuses the certificate presented
 * (RFC 8446 §6.2: bad_certificate 42, unsupported_certificate 43,
 * certificate_revoked 44, certificate_expired 45, certificate_unknown 46,
 * unknown_ca 48), as Node names OpenSSL's errors for them.
 */
const REFUSED_CERTIFICATE =
  /_ALERT_(BAD_CERTIFICATE|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|CERTIFICATE_UNKNOWN|UNKNOWN_CA)$/

interface CauseError {
  message?: unknown
  code?: unknown
  reason?: unknown
}

/** interceptFailureEvent is the error log's event for a failed interception. */
export function interceptFailureEvent(m: InterceptFailureMessage): {
  level: EventLevel
  msg: string
  fields: Record<string, unknown>
} {
  const err = m.error
  const s = m.session
  const cause = (err.cause ?? undefined) as CauseError | undefined
  const errno = typeof cause?.code === 'string' ? cause.code : undefined
  // OpenSSL's reason alone: its message starts with a thread id and ends with a source line.
  const detail =
    typeof cause?.reason === 'string'
      ? cause.reason
      : typeof cause?.message === 'string'
        ? cause.message
        : undefined
  const dest = s.destination
  const host = dest === undefined ? '' : dest.host.includes(':') ? `[${dest.host}]` : dest.host
  const received = s.bytesIn
  let level: EventLevel
  let msg: string
  let why = detail === undefined ? err.message : `${err.message}: ${detail}`
  switch (err.code) {
    case 'TLS_HANDSHAKE_FAILED':
      if (errno !== undefined && REFUSED_CERTIFICATE.test(errno)) {
        level = 'info'
        msg = 'mitm: the client refused our certificate'
        why = `${detail}: the client does not trust the certificate the local CA made for ${host || 'the host'} (trust the CA: 'portcullis ca show'; or, for a client that pins it, list the host in forward.mitm.passthrough)`
      } else {
        level = 'warn'
        msg = 'mitm: TLS handshake with the client failed'
      }
      break
    case 'NOT_TLS':
      level = 'warn'
      msg = 'mitm: the client did not start TLS'
      break
    case 'TLS_HANDSHAKE_TIMEOUT':
      level = received > 0 ? 'info' : 'debug'
      msg = 'mitm: TLS handshake timed out'
      break
    case 'CLIENT_ABORTED':
      level = received > 0 ? 'info' : 'debug'
      msg = 'mitm: the client left before the TLS handshake was done'
      break
    default:
      level = 'error'
      msg = 'mitm: interception failed'
  }
  return {
    level,
    msg,
    fields: {
      code: err.code,
      cause: why,
      errno,
      destination: dest === undefined ? undefined : `${host}:${dest.port}`,
      client: s.clientAddress,
      requestId: s.id,
      traceId: s.traceId,
      received,
      ms: Math.round(performance.now() - s.t0),
    },
  }
}
