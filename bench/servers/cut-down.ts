/**
 * A cut-down proxy for the CPU breakdown in bench/README.md: one upstream
 * connection per client connection, both reading into owned buffers as
 * Portcullis does, and as much of Portcullis's HTTP work as LEVEL asks for.
 * It assumes what the benchmark sends (a whole small GET per read, a whole
 * small response per read) and is not a proxy for anything else.
 *
 *   0  moves bytes: each read is written to the other socket
 *   1  also parses both heads with Portcullis's parsers, then forwards the bytes
 *   2  also builds the upstream head (forwarding headers, request id) and the
 *      client's response head, and writes them as Portcullis does (latin1 strings)
 *
 * Compare it with Portcullis and nginx by alternating `bench/cpu-per-request.sh`.
 *
 * Usage: node --max-semi-space-size=2 bench/servers/cut-down.ts PORT ORIGIN_PORT LEVEL
 */
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { newRequestId } from '../../src/core/request-id.ts'
import { parseRequestHead, scanRequestHead } from '../../src/http1/request-head.ts'
import { parseResponseHead, scanResponseHead } from '../../src/http1/response-head.ts'
import { serializeResponseHead } from '../../src/http1/serialize.ts'
import { buildUpstreamHeaders, serializeRequestHead } from '../../src/proxy/forwarding.ts'

const [port, originPort, level] = process.argv.slice(2).map(Number)
const LIMITS = { maxHeadSize: 16384, maxHeaders: 100, maxTargetLength: 8192 }
const POLICY = {
  preserveHost: false,
  forwardedHeaders: true,
  via: true,
  requestIdHeader: 'x-request-id',
  trusts: () => false,
  underscoresInHeaders: false,
  upgrades: new Set(['websocket']),
}
const VIA = ['Via', '1.1 portcullis']

/** ownReads moves an accepted (paused) socket's handle into one that reads into `buf`, as server/own-read.ts does. */
function ownReads(accepted: net.Socket, buf: Buffer, onData: (chunk: Buffer) => void): net.Socket {
  const handle = (accepted as unknown as { _handle: unknown })._handle
  const socket = new net.Socket({
    handle,
    onread: {
      buffer: buf,
      callback: (n: number, b: Uint8Array) => {
        onData((b as Buffer).subarray(0, n))
        return true
      },
    },
  } as unknown as net.SocketConstructorOpts)
  ;(accepted as unknown as { _handle: unknown })._handle = null
  accepted.destroy()
  socket.resume()
  return socket
}

function toClient(client: net.Socket, chunk: Buffer): void {
  if (level === 0) {
    client.write(chunk)
    return
  }
  const end = scanResponseHead(chunk, 0, 65536)
  const head = parseResponseHead(chunk, 0, end, 100)
  if (level === 1) {
    client.write(chunk)
    return
  }
  const text = serializeResponseHead(head.status, head.reason, head, {
    framing: 'length',
    close: false,
    keepAliveHeader: false,
    extra: VIA,
    connectionOptions: undefined,
    upgrade: undefined,
  })
  client.write(text + chunk.toString('latin1', end), 'latin1')
}

function toOrigin(origin: net.Socket, chunk: Buffer): void {
  if (level === 0) {
    origin.write(chunk)
    return
  }
  const end = scanRequestHead(chunk, 0, LIMITS)
  const head = parseRequestHead(chunk, 0, end, LIMITS)
  if (level === 1) {
    origin.write(chunk)
    return
  }
  const id = newRequestId(performance.now())
  const fields = buildUpstreamHeaders(
    head,
    POLICY,
    '127.0.0.1',
    false,
    id,
    `127.0.0.1:${originPort}`,
    'none',
    {
      traceId: undefined,
    },
  )
  origin.write(serializeRequestHead(head.method, head.target, fields), 'latin1')
}

net
  .createServer({ noDelay: true, pauseOnConnect: true }, (accepted) => {
    let client: net.Socket | undefined
    const origin = net.connect({
      port: originPort!,
      host: '127.0.0.1',
      noDelay: true,
      onread: {
        buffer: Buffer.allocUnsafe(4096),
        callback: (n, b) => {
          toClient(client!, (b as Buffer).subarray(0, n))
          return true
        },
      },
    })
    client = ownReads(accepted, Buffer.allocUnsafe(1024), (chunk) => toOrigin(origin, chunk))
    client.on('error', () => origin.destroy())
    origin.on('error', () => client.destroy())
    client.on('close', () => origin.destroy())
    origin.on('close', () => client.destroy())
  })
  .listen({ port, host: '127.0.0.1', backlog: 4096 })
process.on('SIGTERM', () => process.exit(0))
