/**
 * The end of a run: the tables on the terminal, then latest.json and
 * latest.svg in the output directory.
 */
import type { Contestant } from '../contestants/contestant.ts'
import { writeChart } from './chart.ts'
import type { Machine } from './machine.ts'
import { metrics, type Samples } from './metrics.ts'
import type { Options } from './options.ts'
import { table, writeJson } from './report.ts'
import { median, summarize } from './summary.ts'

export interface RunOutcome {
  options: Options
  machine: Machine
  samples: Samples
  contestants: readonly Contestant[]
  unavailable: Record<string, string>
  started: number
}

export function publish(r: RunOutcome): void {
  const { options, machine, samples } = r
  const summaries = summarize(samples, metrics(options), r.contestants)
  console.log(table(summaries))
  const noise = noiseLine(r)
  if (samples.failures.length > 0) {
    console.log(`\n${samples.failures.length} failed measurements:`)
    for (const f of samples.failures)
      console.log(`  round ${f.round} ${f.contestant} ${f.metric}: ${f.error}`)
  }
  for (const note of samples.notes) console.log(`note: ${note}`)
  const date = new Date().toISOString()
  const durationSeconds = Math.round((Date.now() - r.started) / 1000)
  const json = writeJson(options.out, { ...r, date, durationSeconds, summaries })
  const rounds = samples.rounds('small')
  const svg = writeChart(options.out, summaries, {
    date: date.slice(0, 16).replace('T', ' '),
    subtitle: `${options.quick ? 'quick run' : `${rounds} rounds`}, ${machine.cores} cores ${machine.cpu}${noise}`,
  })
  console.log(`\nwrote ${json} and ${svg} in ${durationSeconds} s`)
}

/** noiseLine reports how much of the machine others used; returns the chart's fragment. */
function noiseLine({ samples, machine }: RunOutcome): string {
  const m = median(samples.noise)
  if (m === null) return ''
  const worst = Math.max(...samples.noise)
  machine.foreignCpuShare = { median: Math.round(m * 100) / 100, max: Math.round(worst * 100) / 100 }
  const pct = (x: number) => `${Math.round(x * 100)}%`
  console.log(
    `\nOther processes used ${pct(m)} of the machine during a median measurement (worst ${pct(worst)}).`,
  )
  return `, other processes used ${pct(m)} of the machine (median)`
}
