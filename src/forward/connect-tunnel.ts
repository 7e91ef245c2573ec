/**
 * CONNECT tunnels (RFC 9110 §9.3.6): a TCP connection to the destination
 * (directly to its resolved address, or through a chained HTTP proxy),
 * `200` once it is open, then bytes copied both ways with backpressure,
 * counted on the session for the log. Either side closing ends the other
 * (half-close passed on, then both destroyed together); a tunnel silent for
 * `tunnelIdle` is closed. A destination that cannot be reached gets 502,
 * or 504 when the connect timed out, with the stable error body.
 */
import net from 'node:net'
import { GatewayError } from '../core/errors.ts'
import type { Session } from '../core/session.ts'
import { pairSockets } from '../proxy/tunnel.ts'
import type { TunnelClient } from './client.ts'

/** RFC 9110 §9.3.6: a 2xx to CONNECT has no content and no framing fields. */
export const CONNECT_ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n'

/** Where a tunnel's TCP connection goes. */
export interface TunnelEndpoint {
  address: string
  port: number
  connectTimeout: number
  /** When chained: the CONNECT request to send to the upstream proxy first. */
  chainRequest?: string
}

/**
 * connectTo opens a TCP connection (and, through a chained proxy, its
 * CONNECT); resolves with the socket and any bytes read past the chained
 * proxy's answer, or rejects with a GatewayError (502/504).
 */
export function connectTo(ep: TunnelEndpoint): Promise<{ socket: net.Socket; rest: Buffer | null }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: ep.address, port: ep.port, noDelay: true })
    const timer = setTimeout(
      () => fail(new GatewayError('UPSTREAM_CONNECT_TIMEOUT', 'connect timeout')),
      ep.connectTimeout,
    )
    timer.unref()
    function fail(err: GatewayError): void {
      clearTimeout(timer)
      socket.destroy()
      reject(err)
    }
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code === 'ECONNREFUSED' ? 'UPSTREAM_CONNECT_REFUSED' : 'UPSTREAM_CONNECT_FAILED'
      fail(new GatewayError(code, `connect: ${err.code ?? err.message}`, { cause: err }))
    })
    socket.once('connect', () => {
      if (ep.chainRequest === undefined) {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        socket.on('error', ignore) // until joinTunnel takes over (or the client left and it is destroyed)
        resolve({ socket, rest: null })
        return
      }
      socket.write(ep.chainRequest, 'latin1')
      readChainAnswer(socket, (err, rest) => {
        if (err !== undefined) return fail(err)
        clearTimeout(timer)
        socket.removeAllListeners('error')
        socket.on('error', ignore) // until joinTunnel takes over (or the client left and it is destroyed)
        resolve({ socket, rest })
      })
    })
  })
}

/** readChainAnswer waits for the chained proxy's answer head: 2xx opens the tunnel, anything else is a 502. */
function readChainAnswer(
  socket: net.Socket,
  done: (err: GatewayError | undefined, rest: Buffer | null) => void,
): void {
  let buf = Buffer.alloc(0)
  socket.on('data', function onChainData(chunk: Buffer) {
    buf = Buffer.concat([buf, chunk])
    const end = buf.indexOf('\r\n\r\n')
    if (end === -1) {
      if (buf.length > 16 * 1024)
        done(new GatewayError('UPSTREAM_INVALID_RESPONSE', 'chained proxy: head too large'), null)
      return
    }
    socket.off('data', onChainData)
    socket.pause()
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(buf.toString('latin1', 0, Math.min(end, 64)))
    if (status === null || status[1]![0] !== '2')
      return done(
        new GatewayError('UPSTREAM_CONNECT_FAILED', `chained proxy answered ${status?.[1] ?? 'garbage'}`),
        null,
      )
    done(undefined, end + 4 < buf.length ? buf.subarray(end + 4) : null)
  })
}

/**
 * joinTunnel answers the CONNECT with 200 and copies bytes both ways until
 * either side closes. The session stays the client connection's current
 * request, logged when the client socket closes.
 */
export function joinTunnel(
  client: TunnelClient,
  session: Session,
  up: net.Socket,
  upRest: Buffer | null,
  idleTimeout: number,
): void {
  const a = client.socket
  session.status = 200
  a.write(CONNECT_ESTABLISHED, 'latin1')
  session.bytesOut += CONNECT_ESTABLISHED.length
  const clientRest = client.detachForTunnel(function toDestination(data: Buffer) {
    session.bytesIn += data.length
    if (!up.write(data)) a.pause()
    if (up.writableLength > 0) client.lend()
  })
  if (clientRest !== null) {
    session.bytesIn += clientRest.length
    up.write(clientRest)
  }
  if (upRest !== null) {
    session.bytesOut += upRest.length
    a.write(upRest)
  }
  up.on('data', function toClient(data: Buffer) {
    session.bytesOut += data.length
    if (!a.write(data)) up.pause()
  })
  pairSockets(a, up, idleTimeout)
}

function ignore(): void {}
