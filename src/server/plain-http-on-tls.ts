/**
 * A client that speaks plain HTTP to a TLS listener (`http://` typed for an
 * `https://` port) gets a 400 it can read, as nginx answers "The plain HTTP
 * request was sent to HTTPS port", instead of a closed connection that looks
 * like a crash.
 *
 * OpenSSL recognises the case itself: a first record that starts with an
 * HTTP method fails the handshake with SSL_R_HTTP_REQUEST, which Node
 * reports as `tlsClientError` with code ERR_SSL_HTTP_REQUEST. The TLS socket
 * is then unusable, but the TCP socket beneath it (`_parent`, the socket the
 * TLS server wrapped; undocumented, hence checked) is still open and no byte
 * has been written to it, so a plain HTTP/1.1 response can go there.
 */
import type net from 'node:net'
import { errorResponse } from '../core/error-response.ts'
import { GatewayError } from '../core/errors.ts'
import { newRequestId } from '../core/request-id.ts'

/**
 * answerPlainHttp answers 400 PLAIN_HTTP_ON_TLS on the TCP socket under
 * `tlsSocket` when `err` says the client sent plain HTTP, then closes it.
 * Returns false (doing nothing) for any other handshake error.
 */
export function answerPlainHttp(err: Error, tlsSocket: net.Socket): boolean {
  if ((err as NodeJS.ErrnoException).code !== 'ERR_SSL_HTTP_REQUEST') return false
  const raw = (tlsSocket as net.Socket & { _parent?: unknown })._parent
  if (!isOpenSocket(raw)) return false
  const id = newRequestId(performance.now())
  // Text: the request's Accept went into the failed handshake, unread.
  const res = errorResponse(new GatewayError('PLAIN_HTTP_ON_TLS'), id, undefined)
  const body = `${String(res.body)}This port speaks HTTPS: use https://\n`
  const head =
    'HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${id}\r\nconnection: close\r\n\r\n`
  raw.on('error', () => {})
  // The TLS socket is destroyed once the answer has been handed to the kernel.
  raw.end(head + body, () => tlsSocket.destroy())
  return true
}

function isOpenSocket(s: unknown): s is net.Socket {
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof (s as net.Socket).end === 'function' &&
    !(s as net.Socket).destroyed
  )
}
