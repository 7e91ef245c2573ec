/**
 * Portcullis as a forward proxy contestant: absolute-form requests to a
 * local origin (allowed: loopback is refused by default).
 *
 * Usage: node bench/servers/portcullis-forward.ts PORT
 */
import { createGateway } from '../../src/index.ts'

const port = Number(process.argv[2])
const gateway = await createGateway({
  listen: [],
  limits: { maxRequestsPerConnection: 1_000_000_000 },
  forward: { address: { host: '127.0.0.1', port }, allow: ['127.0.0.1'] },
})
await gateway.listen()
process.on('SIGTERM', () => process.exit(0))
