/**
 * A tiny origin server for the quickstart: it echoes what it received, so a
 * newcomer can see what Portcullis forwards (X-Forwarded-*, Via, x-request-id).
 */
import http from 'node:http'

/** startDemoOrigin listens on 127.0.0.1:`port` and resolves once it does. */
export function startDemoOrigin(port: number): Promise<http.Server> {
  const server = http.createServer(function demo(req, res) {
    const body = `${JSON.stringify(
      { method: req.method, url: req.url, time: new Date().toISOString(), headers: req.headers },
      null,
      2,
    )}\n`
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(body)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}
