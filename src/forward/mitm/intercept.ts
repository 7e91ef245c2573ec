/**
 * TLS interception of a CONNECT (ARCHITECTURE.md, "One Session, three
 * sources"). The tunnel is answered `200`, then TLS is terminated in this
 * process by a `tls.TLSSocket` in server mode over the tunnelled socket: no
 * listening server per host, no loopback hop. It presents a leaf for the
 * client's SNI (or the CONNECT host when there is none) signed by the local
 * CA, chooses ALPN http/1.1, and once the handshake is done the decrypted
 * connection is served like any client connection, each request a Session
 * with `source = 'mitm'` (ForwardRuntime.handleInside).
 *
 * A client that sends garbage, stalls in the handshake or leaves mid-way
 * gets its connection closed; nothing outlives it. Why is recorded once on
 * the CONNECT's Session (`session.error`: NOT_TLS, TLS_HANDSHAKE_FAILED with
 * OpenSSL's error as its cause, TLS_HANDSHAKE_TIMEOUT, CLIENT_ABORTED, or
 * INTERNAL_ERROR for a leaf that could not be made), so its access log line
 * and onLog hooks see it, and reported (`ReportFailure`: the error log's
 * line, server/forward-door.ts). A successful interception reports nothing.
 */
import type net from 'node:net'
import tls from 'node:tls'
import { GatewayError } from '../../core/errors.ts'
import type { Destination, Session } from '../../core/session.ts'
import type { ForwardClient } from '../client.ts'
import { CONNECT_ESTABLISHED } from '../connect-tunnel.ts'
import type { LeafCache } from './leaf-cache.ts'

/** Serves the decrypted (or plain: `tls` false) connection of an intercepted CONNECT. */
export type ServeIntercepted = (socket: net.Socket, dest: Destination, tls: boolean) => void

/** Told once why the interception of a CONNECT failed (`err`, also set as `session.error`). */
export type ReportFailure = (session: Session, err: GatewayError) => void

/** What every step of one interceptor needs: the leaves, who serves the inside, the handshake's time limit. */
interface Interception {
  readonly leaves: LeafCache
  readonly serve: ServeIntercepted
  readonly handshakeTimeout: number
  readonly report: ReportFailure | undefined
}

/**
 * Bytes a client may send before its leaf is ready: a ClientHello fits one
 * TLS record (16 KiB, RFC 8446 §5.1), rarely more than 2 KiB.
 */
const MAX_EARLY = 64 * 1024

/** The first byte of a TLS handshake record (RFC 8446 §5.1): what a ClientHello starts with. */
const TLS_HANDSHAKE = 0x16

/** What the handshake's timer passes to `gone` (an 'end' passes nothing, an 'error' its error). */
const TIMED_OUT = Symbol('timed out')

/**
 * createInterceptor: what ForwardRuntime calls for a CONNECT it intercepts.
 * `handshakeTimeout` bounds the TLS handshake (as `timeouts.head` bounds a
 * request head).
 */
export function createInterceptor(
  leaves: LeafCache,
  serve: ServeIntercepted,
  handshakeTimeout: number,
  sniffPorts: readonly number[] = [],
  report?: ReportFailure,
) {
  const it: Interception = { leaves, serve, handshakeTimeout, report }
  return function intercept(
    client: ForwardClient,
    session: Session,
    dest: Destination,
    ahead?: () => void,
  ): void {
    terminate(client, session, dest, it, ahead, sniffPorts.includes(dest.port))
  }
}

/** isTokenChar: an ASCII letter, what every HTTP method starts with (and no TLS record does). */
function isTokenChar(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
}

/** open answers the CONNECT: the tunnel is established. */
function open(client: ForwardClient, session: Session): void {
  session.status = 200
  client.socket.write(CONNECT_ESTABLISHED, 'latin1')
  session.bytesOut += CONNECT_ESTABLISHED.length
}

/**
 * failed records why the interception of `session` failed, the first
 * reason only (an alert is followed by the close it causes), and reports
 * it. Called before the tunnelled socket is destroyed: its close logs the
 * CONNECT's Session.
 */
function failed(session: Session, it: Interception, err: GatewayError): void {
  if (session.error !== undefined) return
  session.error = err
  it.report?.(session, err)
}

/**
 * terminate answers the CONNECT at once and intercepts its TLS. The CONNECT
 * host's leaf is made while the 200 and the client's ClientHello travel, so
 * a client without SNI (an IP) is served the right one too. The TLSSocket
 * is made once both the leaf and the ClientHello are here: the bytes read
 * (the ClientHello, or bytes sent with the CONNECT; at most MAX_EARLY) are
 * put back in the paused socket's stream buffer, which Node's TLSSocket
 * reads first, so TLS stays on the socket's handle, never on a JavaScript
 * stream. A CONNECT that sends nothing (a burst's, a scanner's, a browser's
 * spare connection) costs no TLS state, and is closed when it leaves or
 * after the handshake's time limit. Bytes that do not start a TLS handshake
 * record close the tunnel (NOT_TLS).
 *
 * On a port of `mitm.sniffPorts` (`sniffing`) the first byte decides: a
 * TLS record is intercepted as above (its leaf asked for then); a letter,
 * what an HTTP method starts with (RFC 9112 §3), is served in the clear,
 * each request a `mitm` Session to `http://host:port` (what a browser sends
 * through a proxy for `ws://` and `http://`; mitmproxy reads the same way);
 * anything else closes the tunnel.
 */
function terminate(
  client: ForwardClient,
  session: Session,
  dest: Destination,
  it: Interception,
  ahead: (() => void) | undefined,
  sniffing: boolean,
): void {
  const raw = client.socket
  // Gone already (its end was read while the CONNECT's hooks ran): nothing to intercept.
  if (raw.readableEnded || raw.destroyed) return void raw.destroy()
  open(client, session)
  let early: Buffer[] | null = null
  let size = 0
  let context: tls.SecureContext | undefined
  let taken = false
  // The client left (an 'end': no argument; an 'error': its error) or the time limit passed.
  const gone = (why?: unknown): void => {
    failed(session, it, beforeTls(why, early !== null, dest, it.handshakeTimeout))
    raw.destroy()
  }
  // handOver: the bytes read so far go back into the paused socket for whoever serves it next.
  const handOver = (): void => {
    taken = true
    clearTimeout(timer)
    raw.off('end', gone)
    raw.off('error', gone)
    raw.pause()
    raw.unshift(early!.length === 1 ? early![0]! : Buffer.concat(early!))
  }
  const start = (): void => {
    // Held past the cache's hold time (a loop stalled that long), retired: the host's leaf again.
    if (!it.leaves.usable(context!, dest.host)) return makeLeaf()
    handOver()
    secure(raw, session, dest, context!, it)
  }
  const makeLeaf = (): void => {
    it.leaves.contextFor(dest.host, early !== null).then(
      (made) => {
        if (client.current !== session || raw.destroyed) return void raw.destroy()
        context = made
        if (early !== null) start()
      },
      (err: unknown) => {
        if (raw.destroyed) return
        const why = `the leaf certificate for ${dest.host} could not be made`
        failed(session, it, new GatewayError('INTERNAL_ERROR', why, { cause: err }))
        raw.destroy()
      },
    )
  }
  const plain = (): void => {
    raw.off('data', sink)
    handOver()
    it.serve(raw, { ...dest, scheme: 'http' }, false)
  }
  const sink = (data: Buffer): void => {
    if (taken) return // the TLSSocket re-reading what was put back
    session.bytesIn += data.length
    client.lend()
    const first = early === null
    ;(early ??= []).push(data)
    if ((size += data.length) > MAX_EARLY) return refuse(raw, session, it, 'TLS_HANDSHAKE_FAILED', TOO_MUCH)
    if (!first) return
    const b = data[0]!
    if (b !== TLS_HANDSHAKE) {
      if (sniffing && isTokenChar(b)) return plain()
      return refuse(raw, session, it, 'NOT_TLS', notTls(b, sniffing, dest.port))
    }
    // A ClientHello: the client waits on its leaf now. Connecting ahead is
    // speculative work, done only now, so a CONNECT that sends nothing or
    // garbage (a burst's, a scanner's) costs no upstream handshake (measured
    // with bench/forward/new-hosts.ts: a burst's 100 upstream handshakes held
    // its probe's 200 back 3-5x).
    if (sniffing) makeLeaf()
    else if (context !== undefined) start()
    else it.leaves.hurry(dest.host)
    ahead?.()
  }
  const rest = client.detachForTunnel(sink)
  // After detachForTunnel, which takes the connection's own 'end' listeners off.
  raw.once('end', gone)
  raw.on('error', gone) // before the connection's 'close': its log line then has the reason
  const timer = setTimeout(gone, it.handshakeTimeout, TIMED_OUT).unref()
  raw.once('close', () => clearTimeout(timer))
  if (rest !== null && rest.length > 0) {
    sink(rest)
    if (taken || raw.destroyed) return
  }
  if (!sniffing) makeLeaf()
}

const TOO_MUCH = `over ${MAX_EARLY / 1024} KiB sent before the TLS handshake`

/** refuse closes a tunnel whose client sent what cannot be intercepted. */
function refuse(
  raw: net.Socket,
  session: Session,
  it: Interception,
  code: 'NOT_TLS' | 'TLS_HANDSHAKE_FAILED',
  why: string,
): void {
  failed(session, it, new GatewayError(code, why))
  raw.destroy()
}

/** notTls says what came instead of a TLS handshake record. */
function notTls(b: number, sniffing: boolean, port: number): string {
  const hex = `0x${b.toString(16).padStart(2, '0')}`
  // A letter on a port that is not sniffed: most likely plain HTTP (ws://, http://) the operator could let through.
  const hint = isTokenChar(b) && !sniffing ? ` (plain HTTP? port ${port} is not in mitm.sniffPorts)` : ''
  return `the client sent ${hex} where a TLS handshake record (0x16) starts${hint}`
}

/** beforeTls: why a tunnel closed before TLS took it (its client left, failed, or was too slow). */
function beforeTls(why: unknown, sent: boolean, dest: Destination, limit: number): GatewayError {
  if (why === TIMED_OUT)
    return new GatewayError(
      'TLS_HANDSHAKE_TIMEOUT',
      sent
        ? `the leaf certificate for ${dest.host} was not ready within ${limit} ms`
        : `no TLS handshake within ${limit} ms`,
    )
  const left = sent ? 'during the TLS handshake' : 'before sending anything'
  return new GatewayError('CLIENT_ABORTED', `the client left ${left}`, { cause: why })
}

/** secure terminates TLS from the client on `raw` (its stream buffer read first). */
function secure(
  raw: net.Socket,
  session: Session,
  dest: Destination,
  context: tls.SecureContext,
  it: Interception,
): void {
  const secure = new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: context,
    // http/1.1 or nothing: a client offering only others gets the fatal
    // no_application_protocol alert (RFC 7301 §3.2).
    ALPNCallback: function alpn({ protocols }) {
      return protocols.includes('http/1.1') ? 'http/1.1' : undefined
    },
    SNICallback: function leafForSni(servername, done) {
      // Most clients name the CONNECT host: its context is the one already set, no lookup.
      if (servername.toLowerCase() === dest.host.toLowerCase() && it.leaves.usable(context, dest.host))
        return done(null, context)
      it.leaves.contextFor(servername, true).then(
        (ctx) => done(null, ctx),
        (err: Error) => done(err),
      )
    },
  })
  const timer = setTimeout(() => {
    const why = `TLS handshake not done within ${it.handshakeTimeout} ms`
    failed(session, it, new GatewayError('TLS_HANDSHAKE_TIMEOUT', why))
    secure.destroy()
  }, it.handshakeTimeout).unref()
  secure.on('error', (err: NodeJS.ErrnoException) => {
    failed(session, it, handshakeError(err))
    secure.destroy()
  })
  // The tunnelled socket is half-open capable: a client gone mid-handshake must not hold it.
  const leftEarly = () => {
    failed(session, it, new GatewayError('CLIENT_ABORTED', 'the client left during the TLS handshake'))
    secure.destroy()
  }
  secure.once('end', leftEarly)
  secure.once('close', () => {
    clearTimeout(timer)
    raw.destroy()
  })
  raw.once('close', () => secure.destroy())
  secure.once('secure', () => {
    clearTimeout(timer)
    secure.removeAllListeners('error')
    secure.off('end', leftEarly)
    it.serve(secure, dest, true)
  })
}

/**
 * handshakeError: a failed handshake's error, OpenSSL's (its `code` and
 * `reason`: `ERR_SSL_TLSV1_ALERT_UNKNOWN_CA` / `tlsv1 alert unknown ca`, a
 * client refusing our CA; `ERR_SSL_NO_SHARED_CIPHER`, …) kept as the cause
 * for the log; a reset is the client leaving.
 */
function handshakeError(err: NodeJS.ErrnoException): GatewayError {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE')
    return new GatewayError('CLIENT_ABORTED', 'the client left during the TLS handshake', { cause: err })
  return new GatewayError('TLS_HANDSHAKE_FAILED', 'TLS handshake with the client failed', { cause: err })
}
