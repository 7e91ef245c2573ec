/**
 * The gateway of bench/policies.sh: the benchmark contestant's defaults
 * with one route per policy scenario, all to the same origin:
 *
 *   /plain    nothing
 *   /jwt      auth.jwt, HS256 secret (the client repeats one token)
 *   /shared   rateLimit on the shared store (never denies: 1e9/s)
 *   /redis    rateLimit on the redis store
 *   /both     auth.jwt + the shared-store rate limit

 *
 * Usage: node bench/servers/portcullis-policies.ts PORT ORIGIN_PORT REDIS_URL SECRET
 */
import type { GatewayConfigInput } from '../../src/config/schema.ts'
import { createGateway } from '../../src/index.ts'

const [port, originPort, redisUrl, secret] = process.argv.slice(2)

const limit = (store: 'shared' | 'redis') => ({ rate: '1000000000/s', key: 'client.ip' as const, store })
const jwt = { secret: secret! }

function policiesConfig(): GatewayConfigInput {
  return {
    listen: [{ address: `127.0.0.1:${port}` }],
    upstreams: { origin: { targets: [{ url: `http://127.0.0.1:${originPort}` }] } },
    stores: { redis: { url: redisUrl! } },
    routes: [
      { name: 'plain', match: { path: '/plain' }, upstream: 'origin' },
      { name: 'jwt', match: { path: '/jwt' }, upstream: 'origin', auth: { jwt } },
      { name: 'shared', match: { path: '/shared' }, upstream: 'origin', rateLimit: limit('shared') },
      { name: 'redis', match: { path: '/redis' }, upstream: 'origin', rateLimit: limit('redis') },
      {
        name: 'both',
        match: { path: '/both' },
        upstream: 'origin',
        auth: { jwt },
        rateLimit: limit('shared'),
      },
    ],
    limits: { maxRequestsPerConnection: 1_000_000 },
    accessLog: { enabled: false },
  }
}

const gateway = await createGateway(policiesConfig())
await gateway.listen()
process.on('SIGTERM', () => process.exit(0))
