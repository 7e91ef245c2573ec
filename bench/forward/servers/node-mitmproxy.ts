/**
 * node-mitmproxy 3 as a contestant: every CONNECT intercepted (its
 * `sslConnectInterceptor` says yes), no request or response interceptor.
 * It verifies nothing upstream (it sets NODE_TLS_REJECT_UNAUTHORIZED=0
 * itself) and makes its CA in CA_DIR (RSA, node-forge).
 *
 * Usage: node bench/forward/servers/node-mitmproxy.ts PORT CA_DIR
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const mitmproxy = require('node-mitmproxy') as {
  createCA(dir: string): { caCertPath: string; caKeyPath: string }
  createProxy(options: Record<string, unknown>): void
}
const [port, caDir] = process.argv.slice(2)
const { caCertPath, caKeyPath } = mitmproxy.createCA(caDir!)
mitmproxy.createProxy({
  port: Number(port),
  caCertPath,
  caKeyPath,
  sslConnectInterceptor: () => true,
})
process.on('SIGTERM', () => process.exit(0))
