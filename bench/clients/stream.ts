/**
 * Streams BYTES through 127.0.0.1:PORT in one request, never holding more
 * than a socket's worth in memory: `upload` POSTs a generated body to
 * /upload, `download` GETs /download?bytes=BYTES. Prints one JSON line with
 * the throughput. Gives up after TIMEOUT_MS and reports what got through.
 *
 * Usage: node bench/clients/stream.ts PORT upload|download BYTES TIMEOUT_MS
 */
import net from 'node:net'
import { ResponseReader } from './response-reader.ts'

const [portText, mode, bytesText, timeoutText] = process.argv.slice(2)
const port = Number(portText)
const bytes = Number(bytesText)
const CHUNK = Buffer.alloc(1024 * 1024, 'u')

const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
let moved = 0
let status = 0
const t0 = performance.now()

/** report prints the outcome: `complete`, or why not (`timeout`, `closed`, `status`). */
function report(outcome: 'complete' | 'timeout' | 'closed' | 'status'): void {
  const seconds = (performance.now() - t0) / 1000
  const mbPerSecond = Math.round(moved / seconds / 1e5) / 10
  process.stdout.write(`${JSON.stringify({ mode, bytes, moved, seconds, mbPerSecond, outcome, status })}\n`)
  process.exit(0)
}

const reader = new ResponseReader((s) => {
  status = s
  report(s === 200 && moved === bytes ? 'complete' : 'status')
})
socket.on('error', () => report('closed'))
socket.on('close', () => report('closed'))

if (mode === 'upload') {
  socket.on('data', (d: Buffer) => reader.push(d))
  socket.once('connect', () => {
    socket.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: ${bytes}\r\n\r\n`)
    const pump = () => {
      while (moved < bytes) {
        const n = Math.min(CHUNK.length, bytes - moved)
        moved += n
        if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          socket.once('drain', pump)
          return
        }
      }
    }
    pump()
  })
} else {
  let headSeen = false
  socket.on('data', (d: Buffer) => {
    if (headSeen) moved += d.length
    else {
      const end = d.indexOf('\r\n\r\n')
      if (end >= 0) {
        headSeen = true
        moved += d.length - end - 4
      }
    }
    reader.push(d)
  })
  socket.once('connect', () =>
    socket.write(`GET /download?bytes=${bytes} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`),
  )
}
setTimeout(() => report('timeout'), Number(timeoutText)).unref()
process.on('SIGTERM', () => process.exit(0))
