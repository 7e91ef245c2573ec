/**
 * The plain `node:http` server + undici Pool proxy of ~20 lines that issue 2
 * measures Portcullis against: what a Node developer writes first.
 *
 * Usage: node bench/servers/undici-proxy.ts PORT ORIGIN_PORT
 */
import http from 'node:http'
import { Pool } from 'undici'

const [port, originPort] = process.argv.slice(2).map(Number)
const pool = new Pool(`http://127.0.0.1:${originPort}`, { connections: 128 })
const server = http.createServer(async function forward(req, res) {
  try {
    const bodyless = req.method === 'GET' || req.method === 'HEAD'
    const up = await pool.request({
      method: req.method as 'GET',
      path: req.url!,
      headers: req.headers as Record<string, string>,
      body: bodyless ? undefined : req,
    })
    res.writeHead(up.statusCode, up.headers as http.OutgoingHttpHeaders)
    for await (const chunk of up.body) if (!res.write(chunk)) await new Promise((r) => res.once('drain', r))
    res.end()
  } catch {
    if (!res.headersSent) res.writeHead(502)
    res.end()
  }
})
server.keepAliveTimeout = 120_000
server.listen(port, '127.0.0.1', 4096)
process.on('SIGTERM', () => process.exit(0))
