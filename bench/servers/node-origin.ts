/**
 * The origin for request bodies: a raw-socket HTTP/1.1 server that parses
 * just what the benchmark sends. nginx cannot be used here: on `return` it
 * answers before reading the body (and discards it afterwards), which no
 * application does and which changes what a proxy in front has to do.
 *
 *   GET  /small               13 bytes
 *   POST /post, /upload       reads the whole body (Content-Length), then "ok"
 *   GET  /download?bytes=N    N bytes, streamed with backpressure
 *
 * Usage: node bench/servers/node-origin.ts PORT
 */
import net from 'node:net'

const SMALL = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world\n',
  'latin1',
)
const OK = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n',
  'latin1',
)
const BAD = Buffer.from(
  'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  'latin1',
)
const CHUNK = Buffer.alloc(1024 * 1024, 'd')

/** Connection reads requests one after another on one client socket. */
class Connection {
  private head: Buffer | undefined
  private remaining = 0
  private inBody = false
  private respond: Buffer = OK
  private readonly socket: net.Socket

  constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (d: Buffer) => this.onData(d))
    socket.on('error', () => socket.destroy())
  }

  private onData(data: Buffer): void {
    let at = 0
    while (at < data.length) {
      if (this.inBody) {
        const take = Math.min(this.remaining, data.length - at)
        this.remaining -= take
        at += take
        if (this.remaining === 0) this.finishBody()
        continue
      }
      const buf = this.head === undefined ? data.subarray(at) : Buffer.concat([this.head, data.subarray(at)])
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) {
        this.head = Buffer.from(buf)
        return
      }
      const consumed = end + 4 - (this.head?.length ?? 0)
      this.head = undefined
      at += consumed
      if (!this.onHead(buf.toString('latin1', 0, end))) return
    }
  }

  /** onHead reacts to one request head; false when the connection is done. */
  private onHead(head: string): boolean {
    const space = head.indexOf(' ')
    const target = head.slice(space + 1, head.indexOf(' ', space + 1))
    if (/\r\ntransfer-encoding:/i.test(head)) {
      this.socket.end(BAD)
      return false
    }
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)
    const bodyLength = length ? Number(length[1]) : 0
    if (target.startsWith('/download')) {
      this.download(Number(/bytes=(\d+)/.exec(target)?.[1] ?? 0))
      return true
    }
    this.respond = target === '/small' ? SMALL : OK
    if (bodyLength === 0) {
      this.socket.write(this.respond)
      return true
    }
    this.inBody = true
    this.remaining = bodyLength
    return true
  }

  private finishBody(): void {
    this.inBody = false
    this.socket.write(this.respond)
  }

  /** download streams `bytes` bytes, waiting for `drain` whenever the socket is full. */
  private download(bytes: number): void {
    const socket = this.socket
    socket.write(
      `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${bytes}\r\n\r\n`,
    )
    let left = bytes
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, CHUNK.length)
        left -= n
        if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          socket.once('drain', pump)
          return
        }
      }
    }
    pump()
  }
}

const port = Number(process.argv[2])
net
  .createServer({ noDelay: true }, (socket) => new Connection(socket))
  .listen({ port, host: '127.0.0.1', backlog: 4096 })
process.on('SIGTERM', () => process.exit(0))
