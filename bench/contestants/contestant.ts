/**
 * What a contestant is: something that listens on a port and forwards every
 * request to the origin of the current phase, pinned to the contestant core.
 */
import { join } from 'node:path'
import { type Managed, spawnManaged, waitForHttp } from '../lib/processes.ts'

/**
 * How a contestant counts in the report: `reference` is nginx (every ratio's
 * denominator), `node-peer`s compete for "best Node peer", `ceiling` is the
 * origin itself.
 */
export type Role = 'ceiling' | 'subject' | 'reference' | 'native' | 'node-peer'

export interface StartContext {
  /** The run's temporary directory, for configuration files. */
  dir: string
  /** The port to listen on (checked free). */
  port: number
  /** The origin every request goes to. */
  originPort: number
  /** The contestant core, undefined when not pinning. */
  cpu: number | undefined
  /** Starts another copy of this phase's origin on `port` (what "direct" measures). */
  startOriginCopy(port: number, cpu: number | undefined): Promise<Managed>
}

export interface Contestant {
  /** Stable key in results/latest.json. */
  readonly id: string
  /** Shown in the table and the chart. */
  readonly label: string
  readonly role: Role
  /** Why it cannot run here, or undefined when it can. */
  unavailable(): string | undefined
  /** start resolves once the contestant answers GET /small through to the origin. */
  start(ctx: StartContext): Promise<Managed>
}

/** Open files for contestants: 10,000 idle clients plus their upstream sockets. */
export const CONTESTANT_FILES = 65536

/**
 * startNodeServer runs one of bench/servers/*.ts with PORT and ORIGIN_PORT.
 * `nodeFlags` are the V8/Node flags the contestant is documented to run with
 * (Portcullis's bin sets --max-semi-space-size; see docs/discoveries.md).
 */
export async function startNodeServer(
  id: string,
  script: string,
  ctx: StartContext,
  nodeFlags: readonly string[] = [],
): Promise<Managed> {
  const file = join(import.meta.dirname, '..', 'servers', script)
  const p = spawnManaged(
    id,
    process.execPath,
    [...nodeFlags, file, String(ctx.port), String(ctx.originPort)],
    {
      cpu: ctx.cpu,
      nofile: CONTESTANT_FILES,
    },
  )
  await waitForHttp(ctx.port, '/small', p)
  return p
}
