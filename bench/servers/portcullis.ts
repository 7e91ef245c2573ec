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
const gateway = await createGateway(contestantConfig(port!, originPort!))
await gateway.listen()
process.on('SIGTERM', () => process.exit(0))
