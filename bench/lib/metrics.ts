/**
 * What the benchmark measures, and the store the scenarios write into.
 */

export type Better = 'higher' | 'lower'

export interface Metric {
  readonly id: string
  readonly title: string
  readonly unit: string
  readonly better: Better
  /** False when a ratio would mislead (peak RSS growth can be ~0 for nginx). */
  readonly ratios: boolean
}

/** The metrics, in report order; `title` placeholders are filled from the options. */
export function metrics(o: { rate: number; idleConnections: number; streamBytes: number }): Metric[] {
  const size =
    o.streamBytes >= 1024 ** 3 ? `${o.streamBytes / 1024 ** 3} GiB` : `${o.streamBytes / 1024 ** 2} MiB`
  const m = (id: string, title: string, unit: string, better: Better, ratios = true): Metric => ({
    id,
    title,
    unit,
    better,
    ratios,
  })
  return [
    m('small', 'small GET, keep-alive, 50 connections', 'req/s', 'higher'),
    m('large', '64 KiB responses, 50 connections', 'req/s', 'higher'),
    m('post', 'POST with 16 KiB bodies, 50 connections', 'req/s', 'higher'),
    m('latency-p50', `latency p50 at ${o.rate} req/s (small GET)`, 'ms', 'lower'),
    m('latency-p99', `latency p99 at ${o.rate} req/s (small GET)`, 'ms', 'lower'),
    m('idle-memory', `RSS per idle keep-alive connection (${o.idleConnections} held)`, 'bytes/conn', 'lower'),
    m('upload', `${size} streamed upload`, 'MB/s', 'higher'),
    m('upload-rss', `peak RSS growth during the ${size} upload`, 'MB', 'lower', false),
    m('download', `${size} streamed download`, 'MB/s', 'higher'),
    m('download-rss', `peak RSS growth during the ${size} download`, 'MB', 'lower', false),
  ]
}

/** One measurement's side facts (errors, connections held, achieved rate…). */
export interface Detail {
  round: number
  contestant: string
  metric: string
  data: Record<string, unknown>
}

/** Samples holds every value by metric, contestant and round (null = failed). */
export class Samples {
  readonly values = new Map<string, Map<string, (number | null)[]>>()
  readonly details: Detail[] = []
  readonly failures: { round: number; contestant: string; metric: string; error: string }[] = []
  /** Rounds or contestants left out to keep the run within its time limit. */
  readonly notes: string[] = []
  /** Per measurement, the share of the machine other processes used (0..1). */
  readonly noise: number[] = []

  record(round: number, contestant: string, metric: string, value: number | null): void {
    let byContestant = this.values.get(metric)
    if (!byContestant) this.values.set(metric, (byContestant = new Map()))
    let rounds = byContestant.get(contestant)
    if (!rounds) byContestant.set(contestant, (rounds = []))
    rounds[round - 1] = value
  }

  detail(round: number, contestant: string, metric: string, data: Record<string, unknown>): void {
    this.details.push({ round, contestant, metric, data })
  }

  fail(round: number, contestant: string, metricIds: readonly string[], error: unknown): void {
    const message = error instanceof Error ? error.message : String(error)
    for (const metric of metricIds) {
      this.record(round, contestant, metric, null)
      this.failures.push({ round, contestant, metric, error: message.slice(0, 500) })
    }
  }

  /** rounds is how many rounds measured `metric` (some scenarios run in fewer rounds). */
  rounds(metric: string): number {
    let n = 0
    for (const values of this.values.get(metric)?.values() ?? []) n = Math.max(n, values.length)
    return n
  }

  get(metric: string, contestant: string, round: number): number | null {
    return this.values.get(metric)?.get(contestant)?.[round - 1] ?? null
  }
}
