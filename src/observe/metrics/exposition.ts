/**
 * The Prometheus text exposition format (version 0.0.4): `# HELP`, `# TYPE`,
 * then one line per series; a histogram as cumulative `_bucket{le=…}` lines
 * ending with `le="+Inf"`, then `_sum` and `_count`. Label values are
 * escaped (backslash, double quote, line feed) as the format requires.
 */
import type { HistogramSeries, MetricFamily, MetricsSnapshot, ScalarSeries } from './snapshot.ts'

export function renderExposition(snapshot: MetricsSnapshot): string {
  const out: string[] = []
  for (const f of snapshot.families) {
    out.push(
      `# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`,
      `# TYPE ${f.name} ${f.type}`,
    )
    if (f.type === 'histogram') for (const s of f.series) histogramLines(out, f.name, f.labels, f.bounds, s)
    else for (const s of f.series) out.push(`${f.name}${labelText(f.labels, s.values)} ${num(s.value)}`)
  }
  return out.join('\n') + '\n'
}

function histogramLines(
  out: string[],
  name: string,
  labels: string[],
  bounds: number[],
  s: HistogramSeries,
): void {
  let cumulative = 0
  for (let i = 0; i <= bounds.length; i++) {
    cumulative += s.buckets[i] ?? 0
    const le = i < bounds.length ? num(bounds[i]!) : '+Inf'
    out.push(`${name}_bucket${labelText([...labels, 'le'], [...s.values, le])} ${cumulative}`)
  }
  const l = labelText(labels, s.values)
  out.push(`${name}_sum${l} ${num(s.sum)}`, `${name}_count${l} ${s.count}`)
}

function labelText(names: string[], values: string[]): string {
  if (names.length === 0) return ''
  const parts = names.map((n, i) => `${n}="${escapeValue(values[i] ?? '')}"`)
  return `{${parts.join(',')}}`
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function num(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}

/**
 * mergeSnapshots sums the series of the same family and labels across
 * snapshots (workers): counters and histograms add up; gauges add up too
 * (open connections of all workers), and a per-worker gauge carries a
 * `worker` label so its series never meet.
 */
export function mergeSnapshots(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
  const families = new Map<string, MetricFamily>()
  const index = new Map<string, ScalarSeries | HistogramSeries>()
  for (const snap of snapshots) {
    for (const f of snap.families) {
      let into = families.get(f.name)
      if (into === undefined) {
        into = { ...f, series: [] } as MetricFamily
        families.set(f.name, into)
      }
      for (const s of f.series) {
        const key = `${f.name}\u0000${s.values.join('\u0000')}`
        const have = index.get(key)
        if (have === undefined) {
          const copy = 'buckets' in s ? { ...s, buckets: [...s.buckets] } : { ...s }
          index.set(key, copy)
          ;(into.series as (ScalarSeries | HistogramSeries)[]).push(copy)
        } else if ('buckets' in have) {
          const h = s as HistogramSeries
          for (let i = 0; i < h.buckets.length; i++) have.buckets[i] = (have.buckets[i] ?? 0) + h.buckets[i]!
          have.sum += h.sum
          have.count += h.count
        } else have.value += (s as ScalarSeries).value
      }
    }
  }
  return { families: [...families.values()] }
}
