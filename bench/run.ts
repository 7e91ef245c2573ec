/**
 * `npm run bench [-- --quick]`: the comparative load harness. Starts the
 * origins on the load core, then each contestant on the contestant core,
 * round by round, and reports medians and same-round ratios to nginx and to
 * the best Node peer. See bench/README.md for how to read the output.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { CONTESTANTS, type Contestant } from './contestants/index.ts'
import { choosePlacement, describeMachine, loadAverage } from './lib/machine.ts'
import { Samples } from './lib/metrics.ts'
import { writeOriginFiles } from './lib/nginx.ts'
import { parseOptions } from './lib/options.ts'
import { startNginxOrigin, startNodeOrigin } from './lib/origins.ts'
import {
  freePort,
  hasTool,
  installCleanup,
  pinSelf,
  stopAll,
  stopping,
  usePriority,
} from './lib/processes.ts'
import { publish } from './lib/publish.ts'
import { REFERENCE } from './lib/summary.ts'
import { loadTool } from './lib/wrk.ts'
import { type Origin, runSchedule } from './schedule.ts'

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  if (!hasTool('nginx'))
    throw new Error('nginx is needed: it is the origin and the reference (apt-get install nginx)')
  const started = Date.now()
  const dir = mkdtempSync(join(os.tmpdir(), 'portcullis-bench-'))
  // nginx workers drop root privileges and must still read the document root.
  chmodSync(dir, 0o755)
  installCleanup(() => rmSync(dir, { recursive: true, force: true }))

  const placement = choosePlacement()
  pinSelf(placement.loadCpu)
  if (options.priority) usePriority(-10)
  const machine = describeMachine(placement)
  const { run, unavailable } = pickContestants(options.only)
  const log = (line: string) => {
    if (!stopping()) console.log(`${elapsed(started)} ${line}`)
  }
  log(
    `${options.quick ? 'quick' : 'default'} run: ${run.map((c) => c.id).join(', ')}; load tool ${loadTool()}; ` +
      (placement.note ?? `load on core ${placement.loadCpu}, contestant on core ${placement.contestantCpu}`) +
      `; load average ${machine.loadAverageAtStart.join(' ')}`,
  )
  for (const [id, why] of Object.entries(unavailable)) log(`skipping ${id}: ${why}`)

  const samples = new Samples()
  const origins = await startOrigins(dir, placement.loadCpu)
  await runSchedule({ dir, options, placement, samples, started }, run, origins, log)
  await stopAll()
  machine.loadAverageAtEnd = loadAverage()
  publish({ options, machine, samples, contestants: run, unavailable, started })
}

/** startOrigins starts both origins on the load core; each knows how to start its "direct" copy. */
async function startOrigins(dir: string, cpu: number | undefined): Promise<{ get: Origin; body: Origin }> {
  writeOriginFiles(dir)
  const getPort = await freePort()
  await startNginxOrigin(dir, getPort, cpu)
  const bodyPort = await freePort()
  await startNodeOrigin(bodyPort, cpu)
  return {
    get: { port: getPort, startCopy: (port, copyCpu) => startNginxOrigin(dir, port, copyCpu) },
    body: { port: bodyPort, startCopy: startNodeOrigin },
  }
}

/** pickContestants applies --only (keeping nginx, the reference) and drops those that cannot run. */
function pickContestants(only: string[] | undefined) {
  const unavailable: Record<string, string> = {}
  const run: Contestant[] = []
  for (const c of CONTESTANTS) {
    if (only && !only.includes(c.id) && c.id !== REFERENCE) continue
    const why = c.unavailable()
    if (why) unavailable[c.id] = why
    else run.push(c)
  }
  return { run, unavailable }
}

function elapsed(since: number): string {
  return `[${String(Math.round((Date.now() - since) / 1000)).padStart(3)}s]`
}

try {
  await main()
  process.exit(0)
} catch (err) {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  await stopAll()
  process.exit(1)
}
