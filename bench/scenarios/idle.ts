/**
 * Memory per idle keep-alive connection: hold N connections (each has
 * carried one request) and divide the contestant's RSS growth by N. RSS is
 * user-space memory only: kernel socket buffers are not in it.
 */
import { groupRss, hardFileLimit, type Managed, sleep, spawnManaged, stop } from '../lib/processes.ts'
import { clientScript, fmt, lastJson, type RunContext, type Target } from './context.ts'

const METRIC = 'idle-memory'

export async function idle(ctx: RunContext, t: Target): Promise<string> {
  const count = ctx.options.idleConnections
  if (ctx.options.warmSeconds > 0) await sleep(300) // let the warm-up's connections close
  const baseline = groupRss(t.process.pid)
  const client = spawnManaged(
    'idle-client',
    process.execPath,
    [clientScript('idle.ts'), String(t.port), String(count), '20000'],
    { cpu: ctx.placement.loadCpu, nofile: hardFileLimit(), stdinPipe: true },
  )
  try {
    const opened = lastJson<{ open: number; failed: number; ms: number }>(
      await waitForLine(client, /"ready"/, 25_000),
    )
    // Settle, then take the highest of three samples.
    let rss = 0
    for (let i = 0; i < 3; i++) {
      await sleep(i === 0 ? 300 : 100)
      rss = Math.max(rss, groupRss(t.process.pid))
    }
    client.child.stdin!.write('report\n')
    const held = lastJson<{ stillOpen: number }>(await waitForLine(client, /"stillOpen"/, 5000)).stillOpen
    const perConnection = held > 0 ? (rss - baseline) / held : Number.NaN
    ctx.samples.detail(t.round, t.contestant.id, METRIC, { ...opened, held, baseline, rss })
    if (held < 0.9 * count)
      throw new Error(`only ${held} of ${count} connections held (${opened.failed} failed)`)
    ctx.samples.record(t.round, t.contestant.id, METRIC, perConnection)
    const short = held < count ? ` (${held} held)` : ''
    return `${fmt(perConnection)} B/conn${short}`
  } catch (err) {
    ctx.samples.fail(t.round, t.contestant.id, [METRIC], err)
    return 'FAILED'
  } finally {
    await stop(client, 1000)
  }
}

/** waitForLine resolves with the client's stdout once a line matches. */
async function waitForLine(p: Managed, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const out = p.stdout()
    const line = out.split('\n').find((l) => pattern.test(l))
    if (line) return line
    if (p.hasExited()) throw new Error(`idle client exited: ${p.stderrTail() || out}`)
    await sleep(50)
  }
  throw new Error(`idle client gave no ${pattern} within ${timeoutMs} ms`)
}
