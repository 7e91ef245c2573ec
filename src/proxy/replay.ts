/**
 * When a failed upstream request may be sent again on a new connection.
 */
import type { UpstreamConnection } from '../upstream/connection.ts'
import type { BodyFraming } from './forwarding.ts'

/** Methods whose replay cannot change the outcome (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

/**
 * A reused keep-alive connection the upstream closed as we wrote to it fails
 * with nothing received. Replaying is safe for an idempotent request without
 * a body, once, on a new connection (as Go's Transport and undici do); the
 * exchange checks "once" and "nothing sent to the client yet".
 */
export function mayReplay(conn: UpstreamConnection, method: string, framing: BodyFraming): boolean {
  return conn.served > 0 && conn.responseBytes === 0 && framing === 'none' && IDEMPOTENT.has(method)
}
