/**
 * TLS interception of a CONNECT (ARCHITECTURE.md, "One Session, three
 * sources"). The tunnel is answered `200`, then TLS is terminated in this
 * process by a `tls.TLSSocket` in server mode over the tunnelled socket: no
 * listening server per host, no loopback hop. It presents a leaf for the
 * client's SNI (or the CONNECT host when there is none) signed by the local
 * CA, offers ALPN http/1.1, and once the handshake is done the decrypted
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

/** ALPN's wire form (RFC 7301 §3.1), made once: given as an array, Node converts it for every socket. */
const ALPN_HTTP1 = Buffer.from('\x08http/1.1', 'latin1')

/** Serves the decrypted connection of an intercepted CONNECT. */
export type ServeIntercepted = (socket: tls.TLSSocket, dest: Destination) => void

/**
 * createInterceptor: what ForwardRuntime calls for a CONNECT it intercepts.
 * `handshakeTimeout` bounds the TLS handshake (as `timeouts.head` bounds a
 * request head).
 */
export function createInterceptor(leaves: LeafCache, serve: ServeIntercepted, handshakeTimeout: number) {
  return function intercept(client: ForwardClient, session: Session, dest: Destination): void {
    // The CONNECT host's leaf is made before the 200, so a client without SNI (an IP) is served too.
    leaves.contextFor(dest.host).then(
      (context) => {
        if (client.current !== session) return
        terminate(client, session, dest, context, leaves, serve, handshakeTimeout)
      },
      () => client.current === session && client.socket.destroy(),
    )
  }
}

function terminate(
  client: ForwardClient,
  session: Session,
  dest: Destination,
  context: tls.SecureContext,
  leaves: LeafCache,
  serve: ServeIntercepted,
  handshakeTimeout: number,
): void {
  const raw = client.socket
  session.status = 200
  raw.write(CONNECT_ESTABLISHED, 'latin1')
  session.bytesOut += CONNECT_ESTABLISHED.length
  // Bytes the client sent before our 200 (an eager ClientHello) were read
  // already: only a stream in JavaScript can be given them back.
  let early: Duplex | undefined
  const rest = client.detachForTunnel((data) => {
    session.bytesIn += data.length
    early?.push(data)
  })
  if (rest !== null) {
    session.bytesIn += rest.length
    early = jsStream(raw, rest)
  }
  const secure = new tls.TLSSocket(early ?? raw, {
    isServer: true,
    secureContext: context,
    ALPNProtocols: ALPN_HTTP1,
    SNICallback: function leafForSni(servername, done) {
      // Most clients name the CONNECT host: its context is the one already set, no lookup.
      if (servername.toLowerCase() === dest.host.toLowerCase()) return done(null, context)
      leaves.contextFor(servername).then(
        (ctx) => done(null, ctx),
        (err: Error) => done(err),
      )
    },
  })
  const timer = setTimeout(() => secure.destroy(), handshakeTimeout).unref()
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
    serve(secure, dest)
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
