/**
 * From raw samples to what the report shows: per metric and contestant the
 * median over rounds, and the median of per-round ratios to nginx and to
 * the best Node peer of the same round. Ratios are "relative performance":
 * above 1 is better than the reference, whichever way the metric points.
 */
import type { Contestant, Role } from '../contestants/contestant.ts'
import type { Metric, Samples } from './metrics.ts'

export interface Row {
  id: string
  label: string
  role: Role
  /** One value per round; null where the round failed. */
  rounds: (number | null)[]
  median: number | null
  /** Median over rounds of the relative performance against nginx. */
  vsNginx: number | null
  /** Median over rounds of the relative performance against the best Node peer. */
  vsBestNode: number | null
}

export interface MetricSummary {
  metric: Metric
  rows: Row[]
}

export const REFERENCE = 'nginx'

export function summarize(
  samples: Samples,
  metrics: readonly Metric[],
  contestants: readonly Contestant[],
): MetricSummary[] {
  const peers = contestants.filter((c) => c.role === 'node-peer').map((c) => c.id)
  return metrics.map((metric) => {
    const n = samples.rounds(metric.id)
    const rows = contestants.map((c): Row => {
      const values: (number | null)[] = []
      const vsNginx: number[] = []
      const vsBestNode: number[] = []
      for (let r = 1; r <= n; r++) {
        const v = samples.get(metric.id, c.id, r)
        values.push(v)
        if (v === null || !metric.ratios) continue
        const toNginx = relative(metric, v, samples.get(metric.id, REFERENCE, r))
        if (toNginx !== null) vsNginx.push(toNginx)
        const toPeer = relative(
          metric,
          v,
          bestOf(
            metric,
            peers.map((p) => samples.get(metric.id, p, r)),
          ),
        )
        if (toPeer !== null) vsBestNode.push(toPeer)
      }
      return {
        id: c.id,
        label: c.label,
        role: c.role,
        rounds: values,
        median: median(values.filter((v): v is number => v !== null)),
        vsNginx: median(vsNginx),
        vsBestNode: median(vsBestNode),
      }
    })
    return { metric, rows }
  })
}

/** relative is value against reference, inverted for lower-is-better metrics. */
function relative(metric: Metric, value: number, reference: number | null): number | null {
  if (reference === null || !(value > 0) || !(reference > 0)) return null
  return metric.better === 'higher' ? value / reference : reference / value
}

function bestOf(metric: Metric, values: (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null && v > 0)
  if (present.length === 0) return null
  return metric.better === 'higher' ? Math.max(...present) : Math.min(...present)
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}
