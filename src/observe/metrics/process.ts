/**
 * Per-process health metrics, labelled by worker: event-loop delay
 * (perf_hooks' monitorEventLoopDelay, as quantiles over the time since the
 * previous scrape), garbage-collection pauses (a PerformanceObserver on `gc`
 * entries, by kind), V8 heap and the resident set.
 */
import {
  constants,
  type ELDHistogram,
  monitorEventLoopDelay,
  type PerformanceEntry,
  PerformanceObserver,
} from 'node:perf_hooks'
import { family } from './collector.ts'
import { Histogram } from './histogram.ts'
import type { MetricFamily } from './snapshot.ts'

/**
 * GC entries are observed one second in every ten, from the start: observing
 * every collection cost about 3 % of a small proxied GET's CPU (bench/ab-cpu.sh
 * with admin metrics, 1.050 with it and 1.017 without), as each one makes a
 * PerformanceEntry and a callback, and young-generation scavenges come many
 * times a second under the gateway's small semi-spaces. The histogram is a
 * sample of the pauses, which is what its quantiles need.
 */
const GC_SAMPLE_MS = 1000
const GC_PERIOD_MS = 10_000

/** GC pauses: young-generation scavenges take 0.1–2 ms, full mark-compacts tens of ms. */
const GC_BOUNDS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
}

export class ProcessMetrics {
  private readonly worker: string
  private readonly loop: ELDHistogram | undefined
  private readonly gc = new Map<string, Histogram>()
  private readonly observer: PerformanceObserver
  private readonly gcTimer: NodeJS.Timeout
  private gcWindow: NodeJS.Timeout | undefined

  /**
   * `loopDelay` false leaves event-loop delay to someone who measures it
   * already (a worker's Sampler, whose samples reach the supervisor): a
   * second histogram measurably costs the request path (bench/ab-cpu.sh:
   * about 1.7 % at 10 ms resolution).
   */
  constructor(worker: string, loopDelay = true) {
    this.worker = worker
    if (loopDelay) {
      // 20 ms, as the workers' Sampler: finer wakes the loop more for a figure nobody reads below that.
      this.loop = monitorEventLoopDelay({ resolution: 20 })
      this.loop.enable()
    }
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const detail = (e as PerformanceEntry & { detail?: { kind?: number } }).detail
        const kind = GC_KINDS[detail?.kind ?? -1] ?? 'other'
        let h = this.gc.get(kind)
        if (h === undefined) this.gc.set(kind, (h = new Histogram(GC_BOUNDS)))
        h.observe(e.duration / 1000)
      }
    })
    this.sampleGc()
    this.gcTimer = setInterval(() => this.sampleGc(), GC_PERIOD_MS).unref()
  }

  /** sampleGc observes GC entries for GC_SAMPLE_MS. */
  private sampleGc(): void {
    this.observer.observe({ entryTypes: ['gc'] })
    this.gcWindow = setTimeout(() => this.observer.disconnect(), GC_SAMPLE_MS).unref()
  }

  families(): MetricFamily[] {
    const w = this.worker
    const mem = process.memoryUsage()
    const gauge = (name: string, help: string, value: number): MetricFamily => ({
      ...family(name, help, 'gauge', ['worker']),
      series: [{ values: [w], value }],
    })
    const h = this.loop
    const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0)
    const delays =
      h === undefined
        ? []
        : [{ worker: w, p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) }]
    h?.reset()
    const gc: MetricFamily = {
      name: 'portcullis_gc_pause_seconds',
      help: 'Garbage-collection pauses, by kind, sampled one second in every ten.',
      type: 'histogram',
      labels: ['worker', 'kind'],
      bounds: GC_BOUNDS,
      series: [...this.gc].map(([kind, hist]) => hist.series([w, kind])),
    }
    return [
      gauge('portcullis_process_heap_used_bytes', 'V8 heap in use.', mem.heapUsed),
      gauge('portcullis_process_heap_total_bytes', 'V8 heap reserved.', mem.heapTotal),
      gauge('portcullis_process_resident_memory_bytes', 'Resident set size.', mem.rss),
      gauge('portcullis_process_uptime_seconds', 'Seconds since the process started.', process.uptime()),
      loopDelayFamily(delays),
      gc,
    ]
  }

  stop(): void {
    this.loop?.disable()
    clearInterval(this.gcTimer)
    clearTimeout(this.gcWindow)
    this.observer.disconnect()
  }
}

/** loopDelayFamily renders event-loop delays (ms) per worker as quantile gauges in seconds. */
export function loopDelayFamily(
  delays: { worker: string; p50: number; p99: number; max: number }[],
): MetricFamily {
  const f = family(
    'portcullis_event_loop_delay_seconds',
    'Event-loop delay over the last interval (since the previous scrape, or the last worker sample), by quantile (1 = max).',
    'gauge',
    ['worker', 'quantile'],
  )
  for (const d of delays)
    f.series.push(
      { values: [d.worker, '0.5'], value: d.p50 / 1000 },
      { values: [d.worker, '0.99'], value: d.p99 / 1000 },
      { values: [d.worker, '1'], value: d.max / 1000 },
    )
  return f
}
