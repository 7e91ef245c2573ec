/**
 * The two origins: nginx for GETs (cheap enough that the proxy in front is
 * the bottleneck) and a raw Node server for request bodies and streams (see
 * servers/node-origin.ts for why not nginx). Both run on the load core; a
 * second copy on the contestant core is the "direct" contestant.
 */
import { join } from 'node:path'
import { originConfig, startNginx } from './nginx.ts'
import { type Managed, spawnManaged, waitForHttp } from './processes.ts'

let copies = 0

export function startNginxOrigin(dir: string, port: number, cpu: number | undefined): Promise<Managed> {
  const name = `origin-${copies++}`
  return startNginx(dir, name, originConfig(dir, name, port), port, cpu)
}

export async function startNodeOrigin(port: number, cpu: number | undefined): Promise<Managed> {
  const script = join(import.meta.dirname, '..', 'servers', 'node-origin.ts')
  const p = spawnManaged('node-origin', process.execPath, [script, String(port)], { cpu, nofile: 65536 })
  await waitForHttp(port, '/small', p)
  return p
}
