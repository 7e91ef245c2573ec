/**
 * http-proxy (node-http-proxy) as a contestant, with the keep-alive agent
 * its documentation recommends for reverse proxying.
 *
 * Usage: node bench/servers/http-proxy.ts PORT ORIGIN_PORT
 */
import http from 'node:http'
import httpProxy from 'http-proxy'

const [port, originPort] = process.argv.slice(2).map(Number)
const proxy = httpProxy.createProxyServer({
  target: `http://127.0.0.1:${originPort}`,
  agent: new http.Agent({ keepAlive: true, maxSockets: 128 }),
})
proxy.on('error', (_err, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502)
  res.end()
})
const server = http.createServer((req, res) => proxy.web(req, res))
// Idle keep-alive connections must survive the idle scenario (default 5 s).
server.keepAliveTimeout = 120_000
server.listen(port, '127.0.0.1', 4096)
process.on('SIGTERM', () => process.exit(0))
