/**
 * Portcullis as a contestant: the same gateway `portcullis proxy` builds,
 * through createGateway so two limits can be set. Defaults stay on
 * (forwarding headers, Via, request ids): that is what users run.
 *
 * Usage: node bench/servers/portcullis.ts PORT ORIGIN_PORT
 */
import { createGateway } from '../../src/index.ts'
import { contestantConfig } from './portcullis-config.ts'

const [port, originPort] = process.argv.slice(2).map(Number)
const config = contestantConfig(port!, originPort!)
// B_ENV=PORTCULLIS_BENCH_ADMIN=1 bench/ab-cpu.sh: metrics on (the admin listener on a free loopback port).
if (process.env.PORTCULLIS_BENCH_ADMIN !== undefined) Object.assign(config, { admin: { address: '127.0.0.1:0' } })
const gateway = await createGateway(config)
await gateway.listen()
process.on('SIGTERM', () => process.exit(0))
