/**
 * Sends raw bytes to a real `node:http` server (default options:
 * requireHostHeader, maxHeaderSize 16384, strict llhttp) over a raw `net`
 * socket and records what its application saw, in the same shape as
 * observeRequestReader. This is the reference side of the differential test.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import type { Observation, ObservedMessage } from './observe-request-reader.ts'

/** What node:http did with one connection's bytes. */
export interface NodeObservation extends Observation {
  /** node's own error code (HPE_…), or a description of how it refused. */
  nodeError?: string | undefined
  /** Status lines of every final response the client received, in order. */
  statuses: number[]
  /** True when the server closed the connection. */
  closed: boolean
}

/** Bounds one exchange. */
export interface ExchangeOptions {
  /**
   * When node has completed this many messages and answered them all, stop
   * after a short grace instead of waiting for idleness (the caller knows
   * nothing more is expected).
   */
  expectedMessages?: number
  /** Silence that ends an exchange, ms (default 500). */
  idleMs?: number
  /** Hard cap on one exchange, ms. */
  timeoutMs?: number
}

interface Exchange {
  obs: NodeObservation
  bodies: Buffer[][]
  touch(): void
}

export interface NodeHttpObserver {
  observe(raw: Buffer, options?: ExchangeOptions): Promise<NodeObservation>
  close(): Promise<void>
}

/** RFC 9110 §15: node's default clientError answers, kept so the client sees the same bytes. */
function clientErrorStatus(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 413
  return 400
}

/** startNodeHttpObserver listens on 127.0.0.1, port 0, until close(). */
export async function startNodeHttpObserver(): Promise<NodeHttpObserver> {
  const exchanges = new Map<number, Exchange>()
  const server = http.createServer()
  server.on('request', function onRequest(req, res) {
    const ex = exchanges.get(req.socket.remotePort ?? -1)
    if (ex === undefined) {
      res.destroy()
      return
    }
    const message: ObservedMessage = {
      method: req.method ?? '',
      target: req.url ?? '',
      rawHeaders: req.rawHeaders,
      body: '',
      complete: false,
    }
    const parts: Buffer[] = []
    ex.obs.messages.push(message)
    ex.bodies.push(parts)
    ex.touch()
    req.on('data', (data: Buffer) => {
      parts.push(data)
      ex.touch()
    })
    req.on('end', () => {
      message.complete = true
      if (req.rawTrailers.length > 0) message.trailers = req.rawTrailers
      ex.touch()
      res.end()
    })
    req.on('error', () => {})
  })
  server.on('clientError', function onClientError(err: NodeJS.ErrnoException, socket: net.Socket) {
    const ex = exchanges.get(socket.remotePort ?? -1)
    if (ex !== undefined && err.code !== 'ECONNRESET') {
      const status = clientErrorStatus(err.code)
      ex.obs.error ??= { status, code: err.code ?? 'UNKNOWN' }
      ex.obs.nodeError ??= err.code
      ex.touch()
      if (socket.writable && socket.bytesWritten === 0) {
        socket.write(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`)
      }
    }
    socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port

  function observe(raw: Buffer, options: ExchangeOptions = {}): Promise<NodeObservation> {
    const idleMs = options.idleMs ?? 500
    const timeoutMs = options.timeoutMs ?? 2000
    return new Promise((resolve) => {
      const obs: NodeObservation = { messages: [], statuses: [], closed: false }
      const bodies: Buffer[][] = []
      let received = Buffer.alloc(0)
      let idle: NodeJS.Timeout | undefined
      let localPort = -1
      const socket = net.connect(port, '127.0.0.1')
      const cap = setTimeout(finish, timeoutMs)
      const ex: Exchange = { obs, bodies, touch }

      function quietFor(): number {
        const expected = options.expectedMessages
        if (expected === undefined || expected === 0 || obs.error !== undefined) return idleMs
        const done = obs.messages.filter((m) => m.complete).length
        return done === expected && obs.statuses.length >= expected ? 30 : idleMs
      }
      function touch(): void {
        clearTimeout(idle)
        idle = setTimeout(finish, quietFor())
      }
      function finish(): void {
        clearTimeout(idle)
        clearTimeout(cap)
        exchanges.delete(localPort)
        socket.destroy()
        obs.messages.forEach((m, i) => {
          m.body = Buffer.concat(bodies[i]!).toString('latin1')
        })
        // A refusal without clientError: the status node answered with (Host check, Expect).
        const refusal = obs.statuses.find((s) => s !== 200)
        if (obs.error === undefined && refusal !== undefined) {
          obs.error = { status: refusal, code: `STATUS_${refusal}` }
          obs.nodeError = `answered ${refusal}`
        }
        resolve(obs)
      }
      socket.on('connect', () => {
        localPort = socket.localPort ?? -1
        exchanges.set(localPort, ex)
        socket.write(raw)
        touch()
      })
      socket.on('data', (data: Buffer) => {
        received = Buffer.concat([received, data])
        obs.statuses = readStatuses(received)
        touch()
      })
      socket.on('error', () => {})
      socket.on('close', () => {
        obs.closed = true
        // Let the server's request/end events that raced the close land first.
        clearTimeout(idle)
        idle = setTimeout(finish, 10)
      })
    })
  }

  function close(): Promise<void> {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(() => resolve()))
  }
  return { observe, close }
}

/** readStatuses lists the final (non-1xx) status codes in a response byte stream. */
function readStatuses(bytes: Buffer): number[] {
  const out: number[] = []
  for (const m of bytes.toString('latin1').matchAll(/HTTP\/1\.[01] (\d{3})/g)) {
    const status = Number(m[1])
    if (status >= 200) out.push(status)
  }
  return out
}
