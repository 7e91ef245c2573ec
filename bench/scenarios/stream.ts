/**
 * One large body streamed through the contestant, each way: throughput in
 * MB/s (10^6 bytes) and the contestant's peak RSS growth, sampled every
 * 100 ms. A proxy without backpressure shows up here as hundreds of MB.
 *
 * A sixteenth of the body goes through first, unmeasured, from the same
 * client process: a contestant's first stream runs cold (Portcullis's first
 * 1 GiB upload read 982–1,205 MB/s, one after a 128 MiB warm-up
 * 1,230–1,387), and the other scenarios measure warm contestants too. RSS
 * growth counts from before the warm-up, so buffering in it is not hidden.
 */
import { RssSampler, runToCompletion } from '../lib/processes.ts'
import { clientScript, fmt, lastJson, type RunContext, type Target } from './context.ts'

interface StreamResult {
  moved: number
  seconds: number
  mbPerSecond: number
  outcome: 'complete' | 'timeout' | 'closed' | 'status'
  status: number
}

export async function stream(ctx: RunContext, t: Target, mode: 'upload' | 'download'): Promise<string> {
  const o = ctx.options
  const rssMetric = `${mode}-rss`
  const sampler = new RssSampler(t.process.pid, 100)
  try {
    const warm = Math.round(o.streamBytes / 16)
    const args = [clientScript('stream.ts'), t.port, mode, o.streamBytes, o.streamTimeoutMs, warm].map(String)
    const r = await runToCompletion(`${mode}-client`, process.execPath, args, {
      cpu: ctx.placement.loadCpu,
      timeoutMs: 2 * o.streamTimeoutMs + 5000,
    })
    const growth = sampler.stop() / 1e6
    const result = lastJson<StreamResult>(r.stdout)
    ctx.samples.detail(t.round, t.contestant.id, mode, { ...result, rssGrowthMB: growth })
    // A transfer cut short by our time limit still measured a rate; a broken one did not.
    if (result.outcome !== 'complete' && !(result.outcome === 'timeout' && result.moved > 0))
      throw new Error(`${mode} ${result.outcome} after ${result.moved} bytes (status ${result.status})`)
    ctx.samples.record(t.round, t.contestant.id, mode, result.mbPerSecond)
    ctx.samples.record(t.round, t.contestant.id, rssMetric, growth)
    const cut = result.outcome === 'timeout' ? ' (cut at time limit)' : ''
    return `${fmt(result.mbPerSecond)} MB/s${cut} +${fmt(growth)} MB`
  } catch (err) {
    sampler.stop()
    ctx.samples.fail(t.round, t.contestant.id, [mode, rssMetric], err)
    return 'FAILED'
  }
}
