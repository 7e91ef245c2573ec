/**
 * A tiny origin server for the quickstart: it echoes what it received, so a
 * newcomer can see what Portcullis forwards (X-Forwarded-*, Via, x-request-id).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

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

// `node examples/demo-origin.ts` runs it on its own (DEMO_ORIGIN_PORT, default 3000),
// for the examples whose comments ask for it; `npm start` imports it instead.
if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const server = await startDemoOrigin(Number(process.env.DEMO_ORIGIN_PORT ?? 3000))
  const { port } = server.address() as AddressInfo
  process.stderr.write(`demo origin listening on http://127.0.0.1:${port} (Ctrl-C to stop)\n`)
  const stop = () => server.close(() => process.exit(0))
  process.once('SIGINT', stop).once('SIGTERM', stop)
}
