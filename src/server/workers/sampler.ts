/**
 * A worker's own health sample: event-loop delay (perf_hooks'
 * monitorEventLoopDelay histogram, reset each interval so a sample covers
 * only its interval), V8 heap in use and the process's resident set.
 */
import { type ELDHistogram, monitorEventLoopDelay } from 'node:perf_hooks'
import type { WorkerSample } from './messages.ts'

/** Histogram resolution, ms: finer costs a timer wake-up per period for nothing a dashboard shows. */
const RESOLUTION_MS = 20

export class Sampler {
  private readonly histogram: ELDHistogram
  private readonly timer: NodeJS.Timeout

  /** Starts sampling every `interval` ms and hands each sample to `report`. */
  constructor(interval: number, report: (sample: WorkerSample) => void) {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
    this.histogram.enable()
    this.timer = setInterval(() => report(this.take()), interval).unref()
  }

  /** take reads the sample of the interval that just ended and starts the next one. */
  take(): WorkerSample {
    const h = this.histogram
    const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0)
    const loopDelay = {
      mean: ms(h.mean),
      p50: ms(h.percentile(50)),
      p99: ms(h.percentile(99)),
      max: ms(h.max),
    }
    h.reset()
    const mem = process.memoryUsage()
    return { heapUsed: mem.heapUsed, rss: mem.rss, loopDelay }
  }

  stop(): void {
    clearInterval(this.timer)
    this.histogram.disable()
  }
}
