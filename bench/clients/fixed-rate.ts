/**
 * An open-loop load generator: sends GET PATH at a fixed RATE (requests/s)
 * for SECONDS over CONNECTIONS keep-alive connections and reports latency
 * percentiles as one JSON line.
 *
 * wrk has no fixed-rate mode and autocannon records whole milliseconds,
 * which is coarser than a loopback proxy's p50. Here each request's clock
 * starts when the request falls due: on the ~1 ms timer tick or on the next
 * response, whichever comes first. A due request that finds every
 * connection busy waits in a queue and that wait counts, so a stalled
 * contestant cannot hide its stall (no coordinated omission).
 *
 * Usage: node bench/clients/fixed-rate.ts PORT RATE SECONDS CONNECTIONS PATH
 */
import net from 'node:net'
import { ResponseReader } from './response-reader.ts'

const [portText, rateText, secondsText, connectionsText, path = '/small'] = process.argv.slice(2)
const port = Number(portText)
const rate = Number(rateText)
const total = Math.round(rate * Number(secondsText))
const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`, 'latin1')

interface Conn {
  socket: net.Socket
  startedAt: number
}

const latencies = new Float64Array(total)
const free: Conn[] = []
const due: number[] = []
let dueHead = 0
let issued = 0
let completed = 0
let errors = 0
let non2xx = 0
let t0 = 0

function connect(): Promise<void> {
  return new Promise((resolve, reject) => {
    const conn: Conn = { socket: net.connect({ port, host: '127.0.0.1', noDelay: true }), startedAt: 0 }
    const reader = new ResponseReader((status) => onResponse(conn, status))
    conn.socket.on('data', (d: Buffer) => reader.push(d))
    conn.socket.once('connect', () => {
      free.push(conn)
      resolve()
    })
    conn.socket.on('error', (e) => {
      errors++
      reject(e)
    })
  })
}

function onResponse(conn: Conn, status: number): void {
  latencies[completed++] = performance.now() - conn.startedAt
  if (status < 200 || status >= 400) non2xx++
  free.push(conn)
  pump()
  if (completed === total) finish()
}

/** pump turns time into due requests and sends them on free connections. */
function pump(): void {
  const now = performance.now()
  const shouldHave = Math.min(total, Math.floor(((now - t0) * rate) / 1000))
  while (issued < shouldHave) {
    due.push(now)
    issued++
  }
  while (dueHead < due.length && free.length > 0) {
    const conn = free.pop()!
    conn.startedAt = due[dueHead++]!
    conn.socket.write(request)
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

function finish(): void {
  const elapsed = (performance.now() - t0) / 1000
  const sorted = latencies.slice(0, completed).sort()
  const round = (ms: number) => Math.round(ms * 1000) / 1000
  const summary = {
    rate,
    achievedRate: Math.round(completed / elapsed),
    sent: dueHead,
    completed,
    errors,
    non2xx,
    p50Ms: round(percentile(sorted, 50)),
    p90Ms: round(percentile(sorted, 90)),
    p99Ms: round(percentile(sorted, 99)),
    p999Ms: round(percentile(sorted, 99.9)),
    maxMs: round(sorted[sorted.length - 1] ?? Number.NaN),
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`)
  process.exit(0)
}

await Promise.all(Array.from({ length: Number(connectionsText) }, connect))
t0 = performance.now()
setInterval(pump, 1)
// Bounded: whatever has not come back 3 s after the last request fell due is reported missing.
setTimeout(finish, (Number(secondsText) + 3) * 1000)
process.on('SIGTERM', () => process.exit(0))
