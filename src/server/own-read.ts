/**
 * Accepted plain-TCP sockets whose reads land in a buffer their connection
 * owns (see http1/read-buffer.ts).
 *
 * `net.connect` and `new net.Socket` take an `onread` option; `net.Server`
 * has none for the sockets it accepts. So listeners accept with
 * `pauseOnConnect` (no read has happened yet) and the accepted handle moves
 * into a new Socket built with `onread`: the same constructor path Node's
 * own server uses, plus the option. The emptied socket is destroyed without
 * closing anything, which also takes it out of the server's connection
 * count; the gateway counts its connections itself.
 *
 * Measured (bench/README.md): a 1 GiB upload no longer allocates a 64 KiB
 * Buffer per read, whose external memory paced the process by full GCs.
 * Where the handle cannot be moved (another runtime, a socket that already
 * read) the accepted socket is used as it is, with 'data' events.
 */
import net from 'node:net'

/** What a socket built with `onread` calls: the next buffer, and each read into it. */
export interface OwnRead {
  buffer: () => Buffer
  callback: (bytes: number, buf: Buffer) => boolean
}

/** A stream handle as `net.Socket` keeps it in `_handle` (not in Node's typings). */
interface StreamHandle {
  readStart(): number
  reading?: boolean
}

/**
 * adoptWithOwnRead returns a socket reading into `onread`'s buffers, or null
 * when the accepted socket must be used as it is (it is then resumed if it
 * was accepted paused).
 */
export function adoptWithOwnRead(accepted: net.Socket, onread: OwnRead): net.Socket | null {
  const holder = accepted as unknown as { _handle: StreamHandle | null }
  const handle = holder._handle
  if (handle == null || typeof handle.readStart !== 'function' || handle.reading === true) {
    accepted.resume()
    return null
  }
  holder._handle = null
  accepted.destroy()
  const options = { handle, allowHalfOpen: true, readable: true, writable: true, onread }
  return new net.Socket(options as unknown as net.SocketConstructorOpts)
}
