/**
 * Portcullis as a contestant with the access log on, written to a file
 * (ACCESS_LOG, default a new file under the system temp directory). It loads
 * the gateway of the tree it runs in (its working directory), so
 * `SERVER=bench/servers/portcullis-access-log.ts bench/ab-cpu.sh REV` compares
 * the access log of REV (A) with the working tree's (B), each with its own
 * defaults. Usage: node bench/servers/portcullis-access-log.ts PORT ORIGIN_PORT
 */
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [port, originPort] = process.argv.slice(2).map(Number)
const tree = pathToFileURL(`${process.cwd()}/`)
const { createGateway } = (await import(new URL('src/index.ts', tree).href)) as {
  createGateway(config: object): Promise<{ listen(): Promise<void> }>
}
const { contestantConfig } = (await import(new URL('bench/servers/portcullis-config.ts', tree).href)) as {
  contestantConfig(port: number, originPort: number): Record<string, unknown>
}
const path = process.env.ACCESS_LOG ?? join(tmpdir(), `portcullis-bench-access-${process.pid}.log`)
const gateway = await createGateway({
  ...contestantConfig(port!, originPort!),
  accessLog: { enabled: true, path },
})
await gateway.listen()
process.on('SIGTERM', () => {
  if (process.env.ACCESS_LOG === undefined) rmSync(path, { force: true })
  process.exit(0)
})
