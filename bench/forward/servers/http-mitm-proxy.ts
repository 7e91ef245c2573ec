/**
 * http-mitm-proxy 1.1 as a contestant: every CONNECT intercepted, keep-alive
 * on both sides (its `keepAlive` option), the origin's certificate trusted
 * through its `httpsAgent` (upstream verification on, as Portcullis's).
 *
 * Usage: node bench/forward/servers/http-mitm-proxy.ts PORT CA_DIR ORIGIN_CA
 */
import { readFileSync } from 'node:fs'
import https from 'node:https'
import { Proxy } from 'http-mitm-proxy'

const [port, caDir, originCa] = process.argv.slice(2)
const proxy = new Proxy()
proxy.onError(() => {})
proxy.listen({
  port: Number(port),
  host: '127.0.0.1',
  sslCaDir: caDir!,
  keepAlive: true,
  httpsAgent: new https.Agent({ keepAlive: true, ca: readFileSync(originCa!) }),
})
process.on('SIGTERM', () => process.exit(0))
