/**
 * Closed-loop load: wrk with one thread on the load core, or autocannon
 * where wrk cannot be had. Both report requests/s over a fixed duration.
 */
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { hasTool, runToCompletion } from './processes.ts'

export interface LoadSpec {
  url: string
  connections: number
  /** Whole seconds (wrk's -d takes no fractions). */
  seconds: number
  /** Send POST requests with a body of this many bytes. */
  postBytes?: number
  cpu: number | undefined
  /** Where to write the wrk Lua script for POST. */
  dir: string
}

export interface LoadOutcome {
  requestsPerSecond: number
  requests: number
  /** Connect, read, write and timeout errors. */
  errors: number
  /** Responses with a status outside 2xx/3xx. */
  non2xx: number
  tool: 'wrk' | 'autocannon'
}

/** loadTool names the tool runLoad uses on this machine. */
export function loadTool(): 'wrk' | 'autocannon' {
  return hasTool('wrk') ? 'wrk' : 'autocannon'
}

/** runLoad drives `spec.url` for `spec.seconds` and reports what the tool measured. */
export function runLoad(spec: LoadSpec): Promise<LoadOutcome> {
  return loadTool() === 'wrk' ? runWrk(spec) : runAutocannon(spec)
}

async function runWrk(spec: LoadSpec): Promise<LoadOutcome> {
  const args = ['-t1', `-c${spec.connections}`, `-d${spec.seconds}s`, '--timeout', '5s']
  if (spec.postBytes !== undefined) args.push('-s', postScript(spec.dir, spec.postBytes))
  const r = await runToCompletion('wrk', 'wrk', [...args, spec.url], {
    cpu: spec.cpu,
    timeoutMs: spec.seconds * 1000 + 10_000,
  })
  if (r.timedOut || r.code !== 0) throw new Error(`wrk failed (${r.code}): ${r.stderr || r.stdout}`)
  return parseWrk(r.stdout)
}

/** parseWrk reads wrk's text summary. */
export function parseWrk(out: string): LoadOutcome {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
  const total = /(\d+) requests in/.exec(out)
  if (!rps || !total) throw new Error(`cannot read wrk output: ${out.slice(0, 300)}`)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const errors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  return { requestsPerSecond: Number(rps[1]), requests: Number(total[1]), errors, non2xx, tool: 'wrk' }
}

/** postScript writes (once) the wrk Lua script that sends POST /post with a fixed body. */
function postScript(dir: string, bytes: number): string {
  const file = join(dir, `post-${bytes}.lua`)
  writeFileSync(
    file,
    `wrk.method = "POST"\nwrk.body = string.rep("p", ${bytes})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`,
  )
  return file
}

async function runAutocannon(spec: LoadSpec): Promise<LoadOutcome> {
  const bin = createRequire(import.meta.url).resolve('autocannon/autocannon.js')
  const args = [bin, '-j', '-c', String(spec.connections), '-d', String(spec.seconds)]
  if (spec.postBytes !== undefined)
    args.push('-m', 'POST', '-H', 'content-type=application/octet-stream', '-b', 'p'.repeat(spec.postBytes))
  const r = await runToCompletion('autocannon', process.execPath, [...args, spec.url], {
    cpu: spec.cpu,
    timeoutMs: spec.seconds * 1000 + 15_000,
  })
  if (r.timedOut || r.code !== 0) throw new Error(`autocannon failed (${r.code}): ${r.stderr}`)
  const j = JSON.parse(r.stdout) as {
    requests: { average: number; total: number }
    errors: number
    timeouts: number
    non2xx: number
  }
  return {
    requestsPerSecond: j.requests.average,
    requests: j.requests.total,
    errors: j.errors + j.timeouts,
    non2xx: j.non2xx,
    tool: 'autocannon',
  }
}
