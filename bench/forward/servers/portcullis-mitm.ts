/**
 * Portcullis as an intercepting forward proxy contestant: every CONNECT to
 * the local origin is intercepted (leaf from the CA in CA_DIR), upstream TLS
 * verified against ORIGIN_CA; absolute-form requests are forwarded too.
 * Loopback is allowed here only because the origin is local.
 *
 * Usage: node bench/forward/servers/portcullis-mitm.ts PORT CA_DIR ORIGIN_CA [ALLOW=127.0.0.1,localhost]
 * (ORIGIN_CA `-`: the system store only, e.g. with NODE_EXTRA_CA_CERTS naming the origin's certificate.)
 */
import { createGateway } from '../../../src/index.ts'

const [port, caDir, upstreamCa, allow = '127.0.0.1,localhost'] = process.argv.slice(2)
const gateway = await createGateway({
  listen: [],
  limits: { maxRequestsPerConnection: 1_000_000_000 },
  forward: {
    address: { host: '127.0.0.1', port: Number(port) },
    allow: allow.split(','),
    mitm: {
      caDir: caDir!,
      hosts: ['*'],
      // PASSTHROUGH in the environment: host patterns tunnelled, not intercepted (comma-separated).
      passthrough: process.env.PASSTHROUGH?.split(',').filter(Boolean) ?? [],
      ...(upstreamCa === '-' ? {} : { upstreamCa }),
      // MITM_CONNECT=lazy in the environment: upstream connections at the first request (default eager).
      connectionStrategy: process.env.MITM_CONNECT === 'lazy' ? 'lazy' : 'eager',
    },
  },
})
await gateway.listen()
process.on('SIGTERM', () => process.exit(0))
