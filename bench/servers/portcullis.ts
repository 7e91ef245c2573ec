/**
 * Portcullis as a contestant: the same gateway `portcullis proxy` builds,
 * through createGateway so two limits can be set. Defaults stay on
 * (forwarding headers, Via, request ids): that is what users run.
 *
 * Usage: node bench/servers/portcullis.ts PORT ORIGIN_PORT
 */
import { createGateway } from '../../src/index.ts'
import type { GatewayConfigInput } from '../../src/config/schema.ts'
import { contestantConfig } from './portcullis-config.ts'

const [port, originPort] = process.argv.slice(2).map(Number)
const config = contestantConfig(port!, originPort!) as GatewayConfigInput
// B_ENV=PORTCULLIS_BENCH_ADMIN=1 bench/ab-cpu.sh: metrics on (the admin listener on a free loopback port).
if (process.env.PORTCULLIS_BENCH_ADMIN !== undefined)
  Object.assign(config, { admin: { address: '127.0.0.1:0' } })
// B_ENV=PORTCULLIS_BENCH_HEALTH=1 bench/ab-cpu.sh: passive health checks on the upstream (issue 13's cost goal).
if (process.env.PORTCULLIS_BENCH_HEALTH !== undefined)
  Object.assign((config.upstreams as Record<string, object>).origin!, { health: { passive: {} } })
// bench/tracing-cost.sh: trace every request to a local OTLP sink.
const otlp = process.env.PORTCULLIS_BENCH_OTLP
const sampleRatio = Number(process.env.PORTCULLIS_BENCH_OTLP_RATIO ?? 1)
const gateway = await createGateway(
  otlp === undefined ? config : { ...config, tracing: { endpoint: otlp, sampleRatio } },
)
await gateway.listen()
process.on('SIGTERM', () => process.exit(0))
