/**
 * Opens COUNT keep-alive connections to 127.0.0.1:PORT, sends one GET on
 * each (so they are real HTTP connections, not bare TCP), and holds them
 * idle. Prints one JSON line when all are open; on the line "report" on
 * stdin prints how many are still open, closes them all and exits.
 *
 * Usage: node bench/clients/idle.ts PORT COUNT TIMEOUT_MS
 */
import net from 'node:net'
import { createInterface } from 'node:readline'
import { ResponseReader } from './response-reader.ts'

const [port, count, timeoutMs] = process.argv.slice(2).map(Number) as [number, number, number]
const CONCURRENCY = 200
const sockets: net.Socket[] = []
let open = 0
let failed = 0
let started = 0
let settled = 0
const t0 = performance.now()

function openOne(): void {
  started++
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
  let answered = false
  const finish = (ok: boolean) => {
    if (answered) return
    answered = true
    if (ok) open++
    else failed++
    settled++
    if (started < count) openOne()
    else if (settled === count) ready()
  }
  const reader = new ResponseReader((status) => finish(status === 200))
  socket.on('connect', () => socket.write(`GET /small HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`))
  socket.on('data', (d: Buffer) => reader.push(d))
  socket.on('error', () => {})
  socket.on('close', () => {
    if (answered) open--
    finish(false)
  })
  sockets.push(socket)
}

let reported = false
function ready(): void {
  if (reported) return
  reported = true
  const ms = Math.round(performance.now() - t0)
  process.stdout.write(`${JSON.stringify({ ready: true, open, failed, ms })}\n`)
}

for (let i = 0; i < Math.min(CONCURRENCY, count); i++) openOne()
setTimeout(ready, timeoutMs).unref()

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'report') return
  process.stdout.write(`${JSON.stringify({ stillOpen: open })}\n`)
  for (const s of sockets) s.destroy()
  process.exit(0)
})
process.on('SIGTERM', () => process.exit(0))
