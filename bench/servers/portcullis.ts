/**
 * Portcullis as a contestant: the same gateway `portcullis proxy` builds,
 * through createGateway so two limits can be set. Defaults stay on
 * (forwarding headers, Via, request ids): that is what users run.
 *
 * Usage: node bench/servers/portcullis.ts PORT ORIGIN_PORT
 */
import { createGateway } from '../../src/index.ts'

const [port, originPort] = process.argv.slice(2).map(Number)
const gateway = await createGateway({
  listen: [{ address: `127.0.0.1:${port}` }],
  upstreams: { origin: { targets: [{ url: `http://127.0.0.1:${originPort}` }] } },
  routes: [{ name: 'all', upstream: 'origin' }],
  // The 1 GiB upload needs no body limit; the request cap per connection is
  // raised as it is for nginx, so no contestant reconnects during a run.
  limits: { maxBodySize: 0, maxRequestsPerConnection: 1_000_000 },
  accessLog: { enabled: false },
})
await gateway.listen()
process.on('SIGTERM', () => process.exit(0))
