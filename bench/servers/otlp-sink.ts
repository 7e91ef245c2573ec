/**
 * An OTLP/HTTP sink for bench/tracing-cost.sh: takes trace exports, reads
 * and discards them, answers 200 `{}`, and prints the spans' bytes received
 * on SIGTERM (so a run shows the exports happened).
 *
 * Usage: node bench/servers/otlp-sink.ts PORT
 */
import http from 'node:http'

const port = Number(process.argv[2])
let bytes = 0
let posts = 0
http
  .createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length))
    req.on('end', () => {
      posts++
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{}')
    })
  })
  .listen(port, '127.0.0.1')
process.on('SIGTERM', () => {
  console.error(`otlp-sink: ${posts} exports, ${(bytes / 1e6).toFixed(1)} MB`)
  process.exit(0)
})
