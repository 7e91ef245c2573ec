/**
 * The terminal table and bench/results/latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fmt } from '../scenarios/context.ts'
import type { Machine } from './machine.ts'
import type { Samples } from './metrics.ts'
import type { Options } from './options.ts'
import type { MetricSummary } from './summary.ts'

/** table renders every metric as an aligned text table. */
export function table(summaries: readonly MetricSummary[]): string {
  const out: string[] = []
  for (const { metric, rows } of summaries) {
    const direction = metric.better === 'higher' ? 'higher is better' : 'lower is better'
    out.push('', `${metric.title} — ${metric.unit}, ${direction}`)
    const lines = [['contestant', `median ${metric.unit}`, 'vs nginx', 'vs best Node peer', 'rounds']]
    for (const r of rows) {
      lines.push([r.label, fmt(r.median), ratio(r.vsNginx), ratio(r.vsBestNode), r.rounds.map(fmt).join(' ')])
    }
    const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)))
    for (const l of lines) {
      out.push(
        `  ${l.map((cell, i) => (i === 0 || i === 4 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}`,
      )
    }
  }
  out.push(
    '',
    'vs nginx / vs best Node peer: relative performance in the same round (median over rounds);',
    'above 1.00 is better than the reference, for every metric (latency and memory are inverted).',
  )
  return out.join('\n')
}

function ratio(r: number | null): string {
  return r === null ? '—' : `${r.toFixed(2)}×`
}

export interface Report {
  date: string
  durationSeconds: number
  options: Options
  machine: Machine
  unavailable: Record<string, string>
  summaries: MetricSummary[]
  samples: Samples
}

/** writeJson writes latest.json: the summary plus every raw number per round. */
export function writeJson(dir: string, r: Report): string {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'latest.json')
  const json = {
    date: r.date,
    durationSeconds: r.durationSeconds,
    options: r.options,
    machine: r.machine,
    unavailable: r.unavailable,
    metrics: r.summaries.map(({ metric, rows }) => ({ ...metric, rows })),
    failures: r.samples.failures,
    notes: r.samples.notes,
    details: r.samples.details,
  }
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`)
  return file
}
