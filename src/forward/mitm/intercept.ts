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
 * gets its connection closed; nothing outlives it.
 */
import type net from 'node:net'
import tls from 'node:tls'
import type { Destination, Session } from '../../core/session.ts'
import type { ForwardClient } from '../client.ts'
import { CONNECT_ESTABLISHED } from '../connect-tunnel.ts'
import type { LeafCache } from './leaf-cache.ts'

/** Serves the decrypted (or plain: `tls` false) connection of an intercepted CONNECT. */
export type ServeIntercepted = (socket: net.Socket, dest: Destination, tls: boolean) => void

/** What every step of one interceptor needs: the leaves, who serves the inside, the handshake's time limit. */
interface Interception {
  readonly leaves: LeafCache
  readonly serve: ServeIntercepted
  readonly handshakeTimeout: number
}

/**
 * Bytes a client may send before its leaf is ready: a ClientHello fits one
 * TLS record (16 KiB, RFC 8446 §5.1), rarely more than 2 KiB.
 */
const MAX_EARLY = 64 * 1024

/** The first byte of a TLS handshake record (RFC 8446 §5.1): what a ClientHello starts with. */
const TLS_HANDSHAKE = 0x16

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
) {
  const it: Interception = { leaves, serve, handshakeTimeout }
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
 * terminate answers the CONNECT at once and intercepts its TLS. The CONNECT
 * host's leaf is made while the 200 and the client's ClientHello travel, so
 * a client without SNI (an IP) is served the right one too. The TLSSocket
 * is made once both the leaf and the ClientHello are here: the bytes read
 * (the ClientHello, or bytes sent with the CONNECT; at most MAX_EARLY) are
 * put back in the paused socket's stream buffer, which Node's TLSSocket
 * reads first, so TLS stays on the socket's handle, never on a JavaScript
 * stream. A CONNECT that sends nothing (a burst's, a scanner's, a browser's
 * spare connection) costs no TLS state, and is closed when it leaves or
 * after the handshake's time limit.
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
  const gone = (): void => void raw.destroy()
  // Connecting ahead is speculative work: at once when no burst of new hosts
  // waits for leaves; during one, once the client's ClientHello shows it
  // handshaking, so CONNECTs that send nothing cost no upstream handshakes
  // (measured with bench/forward/new-hosts.ts: a burst's 100 upstream
  // handshakes held its probe's 200 back 3-5x).
  const connectAhead = (): void => {
    const a = ahead
    ahead = undefined
    a?.()
  }
  const start = (): void => {
    taken = true
    clearTimeout(timer)
    raw.off('end', gone)
    raw.pause()
    raw.unshift(early!.length === 1 ? early![0]! : Buffer.concat(early!))
    secure(raw, dest, context!, it)
  }
  const makeLeaf = (): void => {
    it.leaves.contextFor(dest.host, early !== null).then(
      (made) => {
        if (client.current !== session || raw.destroyed) return void raw.destroy()
        context = made
        if (early !== null) start()
        if (early !== null || it.leaves.pending === 0) connectAhead()
      },
      () => raw.destroy(),
    )
  }
  const plain = (): void => {
    taken = true
    clearTimeout(timer)
    raw.off('end', gone)
    raw.off('data', sink)
    raw.pause()
    raw.unshift(early!.length === 1 ? early![0]! : Buffer.concat(early!))
    it.serve(raw, { ...dest, scheme: 'http' }, false)
  }
  const sink = (data: Buffer): void => {
    if (taken) return // the TLSSocket re-reading what was put back
    session.bytesIn += data.length
    client.lend()
    const first = early === null
    ;(early ??= []).push(data)
    if ((size += data.length) > MAX_EARLY) return void raw.destroy()
    if (!first) return
    if (sniffing) {
      if (isTokenChar(data[0]!)) return plain()
      if (data[0] !== TLS_HANDSHAKE) return void raw.destroy()
      return makeLeaf()
    }
    // Its ClientHello: the client waits on the leaf now.
    if (context !== undefined) start()
    else it.leaves.hurry(dest.host)
    connectAhead()
  }
  const rest = client.detachForTunnel(sink)
  // After detachForTunnel, which takes the connection's own 'end' listeners off.
  raw.once('end', gone)
  const timer = setTimeout(gone, it.handshakeTimeout).unref()
  raw.once('close', () => clearTimeout(timer))
  if (rest !== null && rest.length > 0) {
    if (sniffing) return sink(rest)
    session.bytesIn += rest.length
    early = [rest]
  }
  if (!sniffing) makeLeaf()
}

/** secure terminates TLS from the client on `raw` (its stream buffer read first). */
function secure(raw: net.Socket, dest: Destination, context: tls.SecureContext, it: Interception): void {
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
      if (servername.toLowerCase() === dest.host.toLowerCase()) return done(null, context)
      it.leaves.contextFor(servername, true).then(
        (ctx) => done(null, ctx),
        (err: Error) => done(err),
      )
    },
  })
  const timer = setTimeout(() => secure.destroy(), it.handshakeTimeout).unref()
  secure.on('error', () => secure.destroy())
  // The tunnelled socket is half-open capable: a client gone mid-handshake must not hold it.
  const leftEarly = () => secure.destroy()
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
