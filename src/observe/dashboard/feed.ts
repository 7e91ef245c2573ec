/**
 * DashboardFeed is the admin side of the dashboard: while at least one page
 * listens (server-sent events), it reads every serving process's LiveReport
 * once a second (`AdminInstance.topic('dashboard')`: the one process, or
 * each worker over IPC), turns cumulative counters into per-second figures,
 * keeps the last five minutes and the last requests, and sends each second
 * to the pages. With no page open it reads nothing.
 */
import type { ServerResponse } from 'node:http'
import type { AdminInstance, InstanceState } from '../admin/instance.ts'
import { BUCKETS, percentile } from './latency-buckets.ts'
import type { LiveReport, RecentRequest } from './live-stats.ts'

/** Seconds of history kept and sent to a page that opens. */
export const HISTORY_SECONDS = 300
/** Requests kept for the list (with their headers, for the detail view). */
export const RECENT_KEPT = 500

/** One second of the whole instance. */
export interface Point {
  t: number
  /** Requests per second, by status class ([0] no answer, [1] 1xx … [5] 5xx). */
  classes: number[]
  rps: number
  /** Failed requests per second (5xx, or an error with no 4xx answer). */
  errors: number
  /** Latency percentiles over the second, ms; null when no request ended. */
  p50: number | null
  p95: number | null
  p99: number | null
  bytesOutPerSec: number
  connections: number
  rss: number
  heapUsed: number
  /** The worst worker's event-loop delay p99, ms. */
  loopP99: number
}

/** One target's second: tries, failures and mean try latency, plus its live state. */
export interface TargetPoint {
  upstream: string
  target: string
  tries: number
  failures: number
  meanMs: number | null
}

export type ListedRequest = Omit<RecentRequest, 'headers'>

export class DashboardFeed {
  private readonly instance: AdminInstance
  private readonly pages = new Set<ServerResponse>()
  private readonly history: Point[] = []
  private readonly recent: RecentRequest[] = []
  private readonly previous = new Map<number, LiveReport>()
  private timer: NodeJS.Timeout | undefined = undefined
  private busy = false

  constructor(instance: AdminInstance) {
    this.instance = instance
  }

  /** open starts an event stream to a page: the history first, then a tick per second. */
  open(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    })
    send(res, 'history', { points: this.history, requests: this.recent.map(listed) })
    this.pages.add(res)
    res.on('close', () => {
      this.pages.delete(res)
      if (this.pages.size === 0) this.stop()
    })
    if (this.timer === undefined) {
      // Counters read before a pause would make the first second look like the whole pause.
      this.previous.clear()
      this.timer = setInterval(() => void this.tick(), 1000)
      void this.tick()
    }
  }

  /** request returns one kept request with its (redacted) headers. */
  request(key: string): RecentRequest | undefined {
    return this.recent.find((r) => r.key === key)
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  private async tick(): Promise<void> {
    if (this.busy) return // a slow worker: skip a second rather than pile up reads
    this.busy = true
    try {
      const [reports, state] = await Promise.all([this.instance.topic('dashboard'), this.instance.state()])
      const tick = this.combine(reports as LiveReport[], state)
      if (tick !== undefined) for (const res of this.pages) send(res, 'tick', tick)
    } catch {
      // The instance is closing or a worker is gone; the next second tries again.
    } finally {
      this.busy = false
    }
  }

  private combine(reports: LiveReport[], state: InstanceState) {
    const now = Date.now()
    const classes = [0, 0, 0, 0, 0, 0]
    const latency = new Array<number>(BUCKETS).fill(0)
    let errors = 0
    let bytesOut = 0
    let seconds = 0
    const targets = new Map<string, TargetPoint & { msSum: number }>()
    const fresh: RecentRequest[] = []
    const seen = new Set<number>()
    for (const r of reports) {
      seen.add(r.pid)
      fresh.push(...r.recent)
      const before = this.previous.get(r.pid)
      this.previous.set(r.pid, r)
      // A process seen for the first time (or restarted) sets its baseline only.
      if (before === undefined || r.requests < before.requests) continue
      seconds = Math.max(seconds, (r.time - before.time) / 1000)
      for (let i = 0; i < classes.length; i++) classes[i]! += r.statusClasses[i]! - before.statusClasses[i]!
      for (let i = 0; i < BUCKETS; i++) latency[i]! += r.latency[i]! - before.latency[i]!
      errors += r.errors - before.errors
      bytesOut += r.bytesOut - before.bytesOut
      for (const t of r.targets) {
        const old = before.targets.find((o) => o.upstream === t.upstream && o.target === t.target)
        const key = t.upstream + ' ' + t.target
        const sum = targets.get(key) ?? { ...t, tries: 0, failures: 0, msSum: 0, meanMs: null }
        sum.tries += t.tries - (old?.tries ?? 0)
        sum.failures += t.failures - (old?.failures ?? 0)
        sum.msSum += t.msSum - (old?.msSum ?? 0)
        targets.set(key, sum)
      }
    }
    for (const pid of this.previous.keys()) if (!seen.has(pid)) this.previous.delete(pid)
    this.remember(fresh)
    const per = seconds > 0 ? 1 / seconds : 0
    const requests = classes.reduce((a, b) => a + b, 0)
    const ms = (q: number) => (requests > 0 ? percentile(latency, q) : null)
    const point: Point = {
      t: now,
      classes: classes.map((c) => c * per),
      rps: requests * per,
      errors: errors * per,
      p50: ms(0.5),
      p95: ms(0.95),
      p99: ms(0.99),
      bytesOutPerSec: bytesOut * per,
      connections: state.connections,
      rss: reports.reduce((a, r) => a + r.memory.rss, 0),
      heapUsed: reports.reduce((a, r) => a + r.memory.heapUsed, 0),
      loopP99: reports.reduce((a, r) => Math.max(a, r.loopDelay.p99), 0),
    }
    if (seconds > 0) {
      this.history.push(point)
      if (this.history.length > HISTORY_SECONDS) this.history.shift()
    }
    return {
      point: seconds > 0 ? point : undefined,
      targets: [...targets.values()].map(({ msSum, ...t }) => ({
        ...t,
        tries: t.tries * per,
        failures: t.failures * per,
        meanMs: t.tries > 0 ? msSum / t.tries : null,
      })),
      upstreams: state.upstreams,
      workers: workersOf(reports, state),
      requests: fresh.map(listed),
    }
  }

  private remember(fresh: RecentRequest[]): void {
    fresh.sort((a, b) => a.time - b.time)
    this.recent.push(...fresh)
    if (this.recent.length > RECENT_KEPT) this.recent.splice(0, this.recent.length - RECENT_KEPT)
  }
}

/** workersOf lists the serving processes with their latest memory and loop delay. */
function workersOf(reports: LiveReport[], state: InstanceState) {
  return reports
    .map((r) => {
      const w = state.workers.find((x) => x.pid === r.pid)
      return {
        id: w?.id ?? 0,
        pid: r.pid,
        state: w?.state ?? 'listening',
        rss: r.memory.rss,
        heapUsed: r.memory.heapUsed,
        heapTotal: r.memory.heapTotal,
        loopMean: r.loopDelay.mean,
        loopP99: r.loopDelay.p99,
        loopMax: r.loopDelay.max,
      }
    })
    .sort((a, b) => a.id - b.id)
}

function listed({ headers: _headers, ...rest }: RecentRequest): ListedRequest {
  return rest
}

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
}
