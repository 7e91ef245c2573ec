/**
 * After a 101 (Switching Protocols) the two connections stop speaking HTTP:
 * bytes are copied both ways with backpressure until either side
 * closes, and then both are torn down together (RFC 9110 §7.8).
 */
import type { Session } from '../core/session.ts'
import type net from 'node:net'
import type { ResponseHead } from '../http1/response-head.ts'
import { serializeResponseHead } from '../http1/serialize.ts'
import type { ClientSide } from './client-side.ts'
import type { UpstreamConnection } from '../upstream/connection.ts'
import { isWebSocket, type MessageHook, WebSocketRelay } from './websocket-relay.ts'

/** After one side ended, the other gets this long to flush before it is destroyed. */
const TEARDOWN_MS = 1000

/**
 * startTunnel forwards the 101 and joins the client and upstream sockets.
 * A WebSocket on a route with `messageHooks` goes through the message relay
 * (websocket-relay.ts); anything else is a byte pipe.
 */
export function startTunnel(
  client: ClientSide,
  up: UpstreamConnection,
  head: ResponseHead,
  session: Session,
  messageHooks: readonly MessageHook[] = [],
  maxMessage = 0,
): void {
  const a = client.socket
  const b = up.socket
  const protocol = head.upgrade ?? session.head.upgradeProtocol
  if (messageHooks.length > 0 && isWebSocket(protocol)) {
    const relay = new WebSocketRelay(a, b, session, messageHooks, maxMessage, head.rawHeaders)
    relayMessages(client, up, head, session, relay)
    return
  }
  // Upstream bytes arrive in the connection's read buffer: a write still
  // queued afterwards keeps a view of it, so the buffer is lent.
  const upRest = up.tunnel((data) => {
    if (!a.write(data)) b.pause()
    if (a.writableLength > 0) up.lend()
  })
  // Client bytes likewise (plain TCP reads land in the connection's buffer).
  const clientRest = client.detachForTunnel((data) => {
    if (!b.write(data)) a.pause()
    if (b.writableLength > 0) client.lend()
  })
  a.write(serialize101(head, protocol), 'latin1')
  if (upRest !== null) {
    a.write(upRest)
    up.lend()
  }
  if (clientRest !== null) b.write(clientRest)
  pairSockets(a, b, 0)
}

/** relayMessages is startTunnel through the relay: it copies what it keeps, so nothing is lent. */
function relayMessages(
  client: ClientSide,
  up: UpstreamConnection,
  head: ResponseHead,
  session: Session,
  relay: WebSocketRelay,
): void {
  const upRest = up.tunnel(relay.fromServer)
  const clientRest = client.detachForTunnel(relay.fromClient)
  client.socket.write(serialize101(head, head.upgrade ?? session.head.upgradeProtocol), 'latin1')
  if (upRest !== null) relay.fromServer(upRest)
  if (clientRest !== null) relay.fromClient(clientRest)
  pairSockets(client.socket, up.socket, 0)
  relay.start()
}

function serialize101(head: ResponseHead, protocol: string | undefined): string {
  return serializeResponseHead(101, head.reason, head.rawHeaders, {
    framing: 'none',
    close: false,
    keepAliveHeader: false,
    extra: undefined,
    connectionOptions: head.connectionOptions,
    upgrade: protocol,
  })
}

/**
 * pairSockets ties two sockets' lifetimes: backpressure both ways, half-close
 * passed on, and teardown together (the other side gets TEARDOWN_MS to flush).
 * With `idleTimeout` > 0, both are destroyed once neither has sent for that
 * long. Used by upgrade tunnels here and by CONNECT tunnels (forward/).
 */
export function pairSockets(a: net.Socket, b: net.Socket, idleTimeout: number): void {
  a.on('drain', () => b.resume())
  b.on('drain', () => a.resume())
  a.on('end', () => b.end())
  b.on('end', () => a.end())
  let ended = false
  const teardown = function teardown(): void {
    if (ended) return
    ended = true
    a.end()
    b.end()
    setTimeout(() => {
      a.destroy()
      b.destroy()
    }, TEARDOWN_MS).unref()
  }
  const destroyBoth = function destroyBoth(): void {
    ended = true
    a.destroy()
    b.destroy()
  }
  if (idleTimeout > 0) {
    // Either socket's silence counts only when both are silent: reset on each other's bytes.
    b.setTimeout(idleTimeout, destroyBoth)
    a.on('data', () => b.setTimeout(idleTimeout))
  }
  a.on('close', teardown)
  b.on('close', teardown)
  a.on('error', destroyBoth)
  b.on('error', destroyBoth)
  a.resume()
  b.resume()
}
