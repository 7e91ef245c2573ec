/**
 * Closed-loop request rate: wrk with the run's connection count against one
 * path for a fixed time. Small GET, 64 KiB GET, and POST with 16 KiB bodies.
 */
import { POST_SIZE } from '../lib/nginx.ts'
import { runLoad } from '../lib/wrk.ts'
import { fmt, type RunContext, type Target } from './context.ts'

export type ThroughputKind = 'small' | 'large' | 'post'

const PATHS: Record<ThroughputKind, string> = { small: '/small', large: '/64k', post: '/post' }

/** More failed requests than this share invalidates a measurement. */
const MAX_ERROR_SHARE = 0.01

/** warmUp drives load that is not measured, so JIT compilation and pools settle first. */
export async function warmUp(ctx: RunContext, t: Target, kind: ThroughputKind): Promise<void> {
  if (ctx.options.warmSeconds > 0) await runLoad(spec(ctx, t, kind, ctx.options.warmSeconds))
}

/** throughput measures one kind and records requests/s (null when too many requests failed). */
export async function throughput(ctx: RunContext, t: Target, kind: ThroughputKind): Promise<string> {
  try {
    const r = await runLoad(spec(ctx, t, kind, ctx.options.seconds))
    ctx.samples.detail(t.round, t.contestant.id, kind, { ...r })
    const failed = r.errors + r.non2xx
    if (r.requests === 0 || failed > MAX_ERROR_SHARE * r.requests)
      throw new Error(
        `${failed} of ${r.requests} requests failed (${r.errors} socket errors, ${r.non2xx} non-2xx)`,
      )
    ctx.samples.record(t.round, t.contestant.id, kind, r.requestsPerSecond)
    return `${fmt(r.requestsPerSecond)}/s`
  } catch (err) {
    ctx.samples.fail(t.round, t.contestant.id, [kind], err)
    return 'FAILED'
  }
}

function spec(ctx: RunContext, t: Target, kind: ThroughputKind, seconds: number) {
  return {
    url: `http://127.0.0.1:${t.port}${PATHS[kind]}`,
    connections: ctx.options.connections,
    seconds,
    postBytes: kind === 'post' ? POST_SIZE : undefined,
    cpu: ctx.placement.loadCpu,
    dir: ctx.dir,
  }
}
