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
import { Duplex } from 'node:stream'
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
    if (sniffPorts.includes(dest.port)) return sniff(client, session, dest, it)
    terminate(client, session, dest, it, ahead)
  }
}

/**
 * sniff serves a CONNECT to one of `mitm.sniffPorts` by what the client
 * sends first: a TLS ClientHello is intercepted as elsewhere; an HTTP
 * request is served in the clear, each request a `mitm` Session to
 * `http://host:port` (what a browser does for `ws://` and `http://` through
 * a proxy; mitmproxy reads the same way); anything else closes the tunnel.
 * Other ports are not sniffed: their TLS goes straight onto the socket,
 * without the JavaScript stream reading ahead needs.
 */
function sniff(client: ForwardClient, session: Session, dest: Destination, it: Interception): void {
  const raw = client.socket
  // Gone already (its end was read while the CONNECT's hooks ran): nothing to tunnel.
  if (client.current !== session || raw.readableEnded || raw.destroyed) return void raw.destroy()
  const timer = setTimeout(() => raw.destroy(), it.handshakeTimeout).unref()
  raw.once('close', () => clearTimeout(timer))
  const leave = (): void => void raw.destroy()
  let stream: Duplex | undefined
  const first = (data: Buffer): void => {
    if (stream !== undefined) return void stream.push(data)
    if (data[0] === TLS_HANDSHAKE) {
      stream = jsStream(raw, data)
      it.leaves.contextFor(dest.host, true).then(
        (context) => {
          clearTimeout(timer)
          raw.off('end', leave)
          secure(raw, stream!, dest, context, it)
        },
        () => raw.destroy(),
      )
    } else if (isTokenChar(data[0]!)) {
      // A request line starts with a method token (RFC 9112 §3): hand the bytes back, serve HTTP.
      clearTimeout(timer)
      raw.off('end', leave)
      raw.off('data', sink)
      raw.unshift(data)
      it.serve(raw, { ...dest, scheme: 'http' }, false)
    } else raw.destroy()
  }
  const sink = (data: Buffer): void => {
    session.bytesIn += data.length
    client.lend() // kept beyond this read: in the stream, or unshifted
    first(data)
  }
  open(client, session)
  const rest = client.detachForTunnel(sink)
  // Until TLS or HTTP owns the socket, a client that leaves closes it (it is half-open capable).
  raw.once('end', leave)
  if (rest !== null && rest.length > 0) sink(rest)
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
 */
function terminate(
  client: ForwardClient,
  session: Session,
  dest: Destination,
  it: Interception,
  ahead: (() => void) | undefined,
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
    secure(raw, raw, dest, context!, it)
  }
  const rest = client.detachForTunnel((data) => {
    if (taken) return // the TLSSocket re-reading what was put back
    session.bytesIn += data.length
    client.lend()
    const first = early === null
    ;(early ??= []).push(data)
    if ((size += data.length) > MAX_EARLY) return void raw.destroy()
    if (!first) return
    // Its ClientHello: the client waits on the leaf now.
    if (context !== undefined) start()
    else it.leaves.hurry(dest.host)
    connectAhead()
  })
  if (rest !== null) {
    session.bytesIn += rest.length
    early = [rest]
  }
  // After detachForTunnel, which takes the connection's own 'end' listeners off.
  raw.once('end', gone)
  const timer = setTimeout(gone, it.handshakeTimeout).unref()
  raw.once('close', () => clearTimeout(timer))
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

/** secure terminates TLS from the client over `source` (the socket, or a stream of bytes read ahead). */
function secure(
  raw: net.Socket,
  source: net.Socket | Duplex,
  dest: Destination,
  context: tls.SecureContext,
  it: Interception,
): void {
  const secure = new tls.TLSSocket(source, {
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
  // Over a JavaScript stream the TLSSocket has no address of its own: the client's is the tunnel's.
  if (source !== raw)
    for (const k of ['remoteAddress', 'remotePort', 'remoteFamily', 'localAddress', 'localPort'] as const)
      Object.defineProperty(secure, k, { value: raw[k] })
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

/** jsStream: a Duplex over `raw` that first yields `first` (bytes read before TLS took over). */
function jsStream(raw: net.Socket, first: Buffer): Duplex {
  const d = new Duplex({
    read() {
      raw.resume()
    },
    write(chunk: Buffer, _enc, done) {
      raw.write(chunk, done)
    },
    final(done) {
      raw.end()
      done()
    },
    destroy(err, done) {
      raw.destroy()
      done(err)
    },
  })
  d.push(first)
  raw.on('end', () => d.push(null))
  return d
}
