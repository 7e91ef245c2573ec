/**
 * The order of a run. Each contestant runs as two instances for the whole
 * run, both on the contestant core: one in front of the nginx origin (GET
 * scenarios), one in front of the Node origin (body scenarios). Measured
 * once, on the fresh instance right after its warm-up: memory per idle
 * connection. Then each round runs every scenario, alternating contestants
 * within it (A B C … A B C …); the streams run in the first rounds only. A
 * round that would not finish within the time budget is not begun, and past
 * the hard limit no further measurement starts.
 */
import type { Contestant } from './contestants/index.ts'
import { cpuMark, foreignShare } from './lib/noise.ts'
import { freePort, type Managed, ourGroups, stop } from './lib/processes.ts'
import type { RunContext, Target } from './scenarios/context.ts'
import { idle } from './scenarios/idle.ts'
import { latency } from './scenarios/latency.ts'
import { stream } from './scenarios/stream.ts'
import { throughput, warmUp } from './scenarios/throughput.ts'

/** One origin and how to start a copy of it (the "direct" contestant). */
export interface Origin {
  port: number
  startCopy(port: number, cpu: number | undefined): Promise<Managed>
}

export const GET_METRICS = ['idle-memory', 'small', 'large', 'latency-p50', 'latency-p99']
export const BODY_METRICS = ['post', 'upload', 'upload-rss', 'download', 'download-rss']

/** A contestant's two running instances (undefined when one failed). */
interface Live {
  contestant: Contestant
  get: Instance | undefined
  body: Instance | undefined
  /** Start failures, for the setup line. */
  problems: string[]
}

interface Instance {
  process: Managed
  port: number
}

export async function runSchedule(
  ctx: RunContext,
  contestants: readonly Contestant[],
  origins: { get: Origin; body: Origin },
  log: (line: string) => void,
): Promise<void> {
  // Starting measures nothing, so every instance starts at once.
  const live = await Promise.all(contestants.map((c) => startBoth(ctx, c, origins)))
  try {
    for (const l of live) await prepare(ctx, l, log)
    await runRounds(ctx, live, log)
  } finally {
    await Promise.all(live.flatMap((l) => [l.get, l.body]).map((i) => i && stop(i.process)))
  }
}

async function startBoth(ctx: RunContext, contestant: Contestant, origins: { get: Origin; body: Origin }) {
  const problems: string[] = []
  const [get, body] = await Promise.all([
    startInstance(ctx, contestant, origins.get, GET_METRICS, problems),
    startInstance(ctx, contestant, origins.body, BODY_METRICS, problems),
  ])
  return { contestant, get, body, problems }
}

/** startInstance starts one instance; on failure its metrics fail for the whole run. */
async function startInstance(
  ctx: RunContext,
  contestant: Contestant,
  origin: Origin,
  metrics: readonly string[],
  problems: string[],
): Promise<Instance | undefined> {
  try {
    const port = await freePort()
    const process = await contestant.start({
      dir: ctx.dir,
      port,
      originPort: origin.port,
      cpu: ctx.placement.contestantCpu,
      startOriginCopy: origin.startCopy,
    })
    return { process, port }
  } catch (err) {
    ctx.samples.fail(1, contestant.id, metrics, err)
    problems.push(`FAILED to start: ${firstLine(err)}`)
    return undefined
  }
}

/** prepare warms both instances, one after the other, and takes the once-only measurement. */
async function prepare(ctx: RunContext, l: Live, log: (line: string) => void): Promise<void> {
  const parts = [...l.problems]
  if (l.get && (await warm(ctx, l, 'get', parts)))
    parts.push(`idle ${await idle(ctx, target(l.contestant, l.get, 1))}`)
  if (l.body) await warm(ctx, l, 'body', parts)
  log(`[setup] ${l.contestant.label}: ${parts.join(' · ') || 'ready'}`)
}

async function warm(ctx: RunContext, l: Live, which: 'get' | 'body', parts: string[]): Promise<boolean> {
  const i = l[which]!
  try {
    await warmUp(ctx, target(l.contestant, i, 1), which === 'get' ? 'small' : 'post')
    return true
  } catch (err) {
    await stop(i.process)
    l[which] = undefined
    ctx.samples.fail(1, l.contestant.id, which === 'get' ? GET_METRICS : BODY_METRICS, err)
    parts.push(`FAILED warming up: ${firstLine(err)}`)
    return false
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!
}

/** A per-round measurement, run on one of a contestant's two instances. */
interface Step {
  name: string
  on: 'get' | 'body'
  run(ctx: RunContext, t: Target): Promise<string>
}

const ROUND_STEPS: Step[] = [
  { name: 'small', on: 'get', run: (ctx, t) => throughput(ctx, t, 'small') },
  { name: '64k', on: 'get', run: (ctx, t) => throughput(ctx, t, 'large') },
  { name: 'latency', on: 'get', run: latency },
  { name: 'post', on: 'body', run: (ctx, t) => throughput(ctx, t, 'post') },
]
const STREAM_STEPS: Step[] = [
  { name: 'upload', on: 'body', run: (ctx, t) => stream(ctx, t, 'upload') },
  { name: 'download', on: 'body', run: (ctx, t) => stream(ctx, t, 'download') },
]

/**
 * runRounds alternates contestants within each scenario (small: A B C …,
 * 64k: A B C …), so the numbers a ratio compares are measured seconds
 * apart, not minutes: noise from other work on the machine hits them alike.
 */
async function runRounds(ctx: RunContext, live: readonly Live[], log: (line: string) => void) {
  const o = ctx.options
  let lastRoundMs = 0
  const stepMs = new Map<string, number>()
  for (let round = 1; round <= o.rounds; round++) {
    const roundStart = Date.now()
    if (round > 1 && Date.now() - ctx.started + lastRoundMs > o.budgetSeconds * 1000) {
      note(
        ctx,
        log,
        `time budget: stopped after ${round - 1} of ${o.rounds} rounds (see --rounds, --seconds)`,
      )
      return
    }
    let streamMs = 0
    const steps = round <= o.streamRounds ? [...ROUND_STEPS, ...STREAM_STEPS] : ROUND_STEPS
    for (const step of steps) {
      const stepStart = Date.now()
      const parts: string[] = []
      for (const l of live) parts.push(await measure(ctx, step, l, round, stepMs, log))
      const measured = parts.filter(Boolean)
      if (measured.length > 0) log(`[round ${round}/${o.rounds}] ${step.name}: ${measured.join(' · ')}`)
      if (STREAM_STEPS.includes(step)) streamMs += Date.now() - stepStart
    }
    // The next round's estimate: this one without its streams, unless it has them too.
    lastRoundMs = Date.now() - roundStart - (round + 1 <= o.streamRounds ? 0 : streamMs)
  }
}

/**
 * measure runs one step on one contestant, unless it would end past the
 * hard time limit (judged by how long the step took last time, in `stepMs`).
 */
async function measure(
  ctx: RunContext,
  step: Step,
  l: Live,
  round: number,
  stepMs: Map<string, number>,
  log: (line: string) => void,
): Promise<string> {
  const instance = l[step.on]
  if (!instance) return ''
  const o = ctx.options
  const expected = stepMs.get(step.name) ?? Math.max(0, ...stepMs.values())
  if (Date.now() - ctx.started + expected > o.limitSeconds * 1000) {
    note(
      ctx,
      log,
      `round ${round} ${step.name}: ${l.contestant.id} skipped, time limit of ${o.limitSeconds} s`,
    )
    return ''
  }
  const start = Date.now()
  const before = cpuMark(ourGroups())
  const result = await step.run(ctx, target(l.contestant, instance, round))
  const foreign = foreignShare(before, cpuMark(ourGroups()))
  stepMs.set(step.name, Date.now() - start)
  ctx.samples.detail(round, l.contestant.id, `noise-${step.name}`, { foreignCpuShare: round2(foreign) })
  ctx.samples.noise.push(foreign)
  const busy = foreign >= BUSY_SHARE ? ` (others ${Math.round(foreign * 100)}%)` : ''
  return `${l.contestant.id} ${result}${busy}`
}

/** Above this share of the machine used by others, a measurement is flagged in the log. */
const BUSY_SHARE = 0.1

function round2(n: number): number {
  return Math.round(n * 100) / 100
}

function note(ctx: RunContext, log: (line: string) => void, text: string): void {
  ctx.samples.notes.push(text)
  log(text)
}

function target(contestant: Contestant, i: Instance, round: number): Target {
  return { contestant, process: i.process, port: i.port, round }
}
