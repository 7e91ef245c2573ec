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
  private readonly loop: ELDHistogram
  private readonly gc = new Map<string, Histogram>()
  private readonly observer: PerformanceObserver

  constructor(worker: string) {
    this.worker = worker
    // 10 ms resolution: finer wakes the loop more for a figure nobody reads below that.
    this.loop = monitorEventLoopDelay({ resolution: 10 })
    this.loop.enable()
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const detail = (e as PerformanceEntry & { detail?: { kind?: number } }).detail
        const kind = GC_KINDS[detail?.kind ?? -1] ?? 'other'
        let h = this.gc.get(kind)
        if (h === undefined) this.gc.set(kind, (h = new Histogram(GC_BOUNDS)))
        h.observe(e.duration / 1000)
      }
    })
    this.observer.observe({ entryTypes: ['gc'] })
  }

  families(): MetricFamily[] {
    const w = this.worker
    const mem = process.memoryUsage()
    const gauge = (name: string, help: string, value: number): MetricFamily => ({
      ...family(name, help, 'gauge', ['worker']),
      series: [{ values: [w], value }],
    })
    const h = this.loop
    const s = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0)
    const delay = family(
      'portcullis_event_loop_delay_seconds',
      'Event-loop delay since the previous scrape, by quantile (0 to 1, max = 1).',
      'gauge',
      ['worker', 'quantile'],
    )
    delay.series.push(
      { values: [w, '0.5'], value: s(h.percentile(50)) },
      { values: [w, '0.99'], value: s(h.percentile(99)) },
      { values: [w, '1'], value: s(h.max) },
    )
    h.reset()
    const gc: MetricFamily = {
      name: 'portcullis_gc_pause_seconds',
      help: 'Garbage-collection pauses, by kind.',
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
      delay,
      gc,
    ]
  }

  stop(): void {
    this.loop.disable()
    this.observer.disconnect()
  }
}
