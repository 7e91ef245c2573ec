/**
 * Streams BYTES through 127.0.0.1:PORT in one request, never holding more
 * than a socket's worth in memory: `upload` POSTs a generated body to
 * /upload, `download` GETs /download?bytes=BYTES. Prints one JSON line with
 * the throughput. Gives up after TIMEOUT_MS and reports what got through.
 *
 * With WARM_BYTES, a transfer of that size runs first on its own connection
 * and is not measured: the contestant's stream paths are then warm, as its
 * other paths are when they are measured. It has TIMEOUT_MS too.
 *
 * Usage: node bench/clients/stream.ts PORT upload|download BYTES TIMEOUT_MS [WARM_BYTES]
 */
import net from 'node:net'
import { ResponseReader } from './response-reader.ts'

const [portText, mode, bytesText, timeoutText, warmText = '0'] = process.argv.slice(2)
const port = Number(portText)
const timeoutMs = Number(timeoutText)
const CHUNK = Buffer.alloc(1024 * 1024, 'u')

type Outcome = 'complete' | 'timeout' | 'closed' | 'status'

interface Result {
  mode: string
  bytes: number
  moved: number
  seconds: number
  mbPerSecond: number
  outcome: Outcome
  status: number
}

/** transfer streams `bytes` on a new connection and resolves with what happened. */
function transfer(bytes: number): Promise<Result> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
    let moved = 0
    let status = 0
    let done = false
    const t0 = performance.now()
    const timer = setTimeout(() => finish('timeout'), timeoutMs)

    /** finish settles once: `complete`, or why not (`timeout`, `closed`, `status`). */
    function finish(outcome: Outcome): void {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const seconds = (performance.now() - t0) / 1000
      const mbPerSecond = Math.round(moved / seconds / 1e5) / 10
      resolve({ mode, bytes, moved, seconds, mbPerSecond, outcome, status })
    }

    const reader = new ResponseReader((s) => {
      status = s
      finish(s === 200 && moved === bytes ? 'complete' : 'status')
    })
    socket.on('error', () => finish('closed'))
    socket.on('close', () => finish('closed'))

    if (mode === 'upload') {
      socket.on('data', (d: Buffer) => reader.push(d))
      socket.once('connect', () => {
        socket.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: ${bytes}\r\n\r\n`)
        const pump = () => {
          while (moved < bytes && !done) {
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
  })
}

process.on('SIGTERM', () => process.exit(0))
const warm = Number(warmText)
if (warm > 0) await transfer(warm)
const result = await transfer(Number(bytesText))
process.stdout.write(`${JSON.stringify(result)}\n`)
process.exit(0)
