/**
 * A metrics snapshot: plain data (structured-cloneable, so a worker sends it
 * to its supervisor over IPC), merged across workers by summing series with
 * the same labels, and rendered as the Prometheus text format (exposition.ts).
 */

/** One series of a counter or gauge: its label values (in the family's label order) and value. */
export interface ScalarSeries {
  values: string[]
  value: number
}

/** One series of a histogram: per-bucket counts (not cumulative; the last is +Inf), sum and count. */
export interface HistogramSeries {
  values: string[]
  buckets: number[]
  sum: number
  count: number
}

export type MetricFamily =
  | { name: string; help: string; type: 'counter' | 'gauge'; labels: string[]; series: ScalarSeries[] }
  | {
      name: string
      help: string
      type: 'histogram'
      labels: string[]
      /** Upper bounds, seconds, ascending; +Inf is implied. */
      bounds: number[]
      series: HistogramSeries[]
    }

export interface MetricsSnapshot {
  families: MetricFamily[]
}
