/**
 * Latency at a fixed, moderate rate (open loop): p50 and p99 of small GETs,
 * from bench/clients/fixed-rate.ts on the load core.
 */
import { runToCompletion } from '../lib/processes.ts'
import { clientScript, fmt, lastJson, type RunContext, type Target } from './context.ts'

interface FixedRateResult {
  rate: number
  achievedRate: number
  completed: number
  errors: number
  non2xx: number
  p50Ms: number
  p99Ms: number
}

export async function latency(ctx: RunContext, t: Target): Promise<string> {
  const o = ctx.options
  const metrics = ['latency-p50', 'latency-p99']
  try {
    const args = [clientScript('fixed-rate.ts'), t.port, o.rate, o.latencySeconds, o.connections, '/small']
    const r = await runToCompletion('fixed-rate', process.execPath, args.map(String), {
      cpu: ctx.placement.loadCpu,
      timeoutMs: (o.latencySeconds + 10) * 1000,
    })
    const result = lastJson<FixedRateResult>(r.stdout)
    ctx.samples.detail(t.round, t.contestant.id, 'latency', { ...result })
    const expected = o.rate * o.latencySeconds
    if (result.errors > 0 || result.non2xx > 0)
      throw new Error(`${result.errors} socket errors, ${result.non2xx} non-2xx responses`)
    // Its queue grew without bound: any percentile would be an artefact of the run's length.
    if (result.completed < 0.99 * expected)
      throw new Error(
        `could not keep up with ${o.rate} req/s: ${result.completed} of ${expected} answered in time`,
      )
    ctx.samples.record(t.round, t.contestant.id, 'latency-p50', result.p50Ms)
    ctx.samples.record(t.round, t.contestant.id, 'latency-p99', result.p99Ms)
    return `p50 ${fmt(result.p50Ms)} ms p99 ${fmt(result.p99Ms)} ms`
  } catch (err) {
    ctx.samples.fail(t.round, t.contestant.id, metrics, err)
    return 'FAILED'
  }
}
