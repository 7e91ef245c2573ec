/**
 * LiveStats is the dashboard's collector in a serving process (the one
 * process, or each worker): it subscribes to `portcullis:request:end` and
 * `portcullis:upstream:try` for its gateway and keeps cumulative counters,
 * a latency histogram, per-target try counts and a ring of the last
 * requests. Per request that is a few additions and one array slot (the
 * Session itself is kept, not copied; it is read only when the admin side
 * asks). Started only when `admin:` is configured (index.ts).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Session } from '../../core/session.ts'
import {
  type RequestEndMessage,
  requestEndChannel,
  type UpstreamTryMessage,
  upstreamTryChannel,
} from '../channels.ts'
import { BUCKETS, bucketOf } from './latency-buckets.ts'

/** How many finished requests each serving process remembers. */
export const RING_SIZE = 256

/** Request fields whose values never leave the process. */
const REDACTED = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-api-key'])

/** One finished request as the dashboard lists it. */
export interface RecentRequest {
  /** `pid:sequence`, unique across the instance's processes. */
  key: string
  time: number
  method: string
  host: string
  path: string
  status: number
  ms: number
  bytesIn: number
  bytesOut: number
  source: string
  route: string | undefined
  target: string | undefined
  error: string | undefined
  requestId: string
  traceId: string | undefined
  client: string
  /** Request header fields, flat `[name, value, …]`, credentials redacted. */
  headers: string[]
}

/** Per target (`upstream target-origin`), since the process started. */
export interface TargetCounts {
  upstream: string
  target: string
  tries: number
  failures: number
  msSum: number
}

/** What one serving process reports (structured-cloneable: it crosses IPC from workers). */
export interface LiveReport {
  pid: number
  /** Epoch ms of the read. */
  time: number
  requests: number
  /** Requests answered 5xx or failed (an error code with no 4xx answer). */
  errors: number
  /** Counts by status class: 1xx … 5xx, and [0] for requests that got no answer. */
  statusClasses: number[]
  bytesIn: number
  bytesOut: number
  /** Cumulative latency histogram (latency-buckets.ts). */
  latency: number[]
  targets: TargetCounts[]
  memory: { rss: number; heapUsed: number; heapTotal: number }
  /** Event-loop delay since the previous read, milliseconds. */
  loopDelay: { mean: number; p99: number; max: number }
  /** Requests finished since the previous read (at most RING_SIZE). */
  recent: RecentRequest[]
}

export class LiveStats {
  private readonly gateway: object
  private requests = 0
  private errors = 0
  private readonly statusClasses = [0, 0, 0, 0, 0, 0]
  private bytesIn = 0
  private bytesOut = 0
  private readonly latency = new Array<number>(BUCKETS).fill(0)
  private readonly targets = new Map<string, TargetCounts>()
  private readonly ring: (Session | undefined)[] = new Array(RING_SIZE)
  /** Requests ever put in the ring; the next goes to `written % RING_SIZE`. */
  private written = 0
  /** `written` at the previous read: what the admin side has already seen. */
  private reported = 0
  private readonly loop: ReturnType<typeof monitorEventLoopDelay>
  private readonly onEnd = (m: unknown): void => this.requestEnded(m as RequestEndMessage)
  private readonly onTry = (m: unknown): void => this.tryEnded(m as UpstreamTryMessage)

  constructor(gateway: object) {
    this.gateway = gateway
    requestEndChannel.subscribe(this.onEnd)
    upstreamTryChannel.subscribe(this.onTry)
    this.loop = monitorEventLoopDelay({ resolution: 20 })
    this.loop.enable()
  }

  stop(): void {
    requestEndChannel.unsubscribe(this.onEnd)
    upstreamTryChannel.unsubscribe(this.onTry)
    this.loop.disable()
  }

  private requestEnded(m: RequestEndMessage): void {
    if (m.gateway !== this.gateway) return
    const s = m.session
    this.requests++
    const status = s.status
    const cls = status >= 100 && status < 600 ? (status / 100) | 0 : 0
    this.statusClasses[cls]!++
    if (status >= 500 || (s.error !== undefined && status < 400)) this.errors++
    this.bytesIn += s.bytesIn
    this.bytesOut += s.bytesOut
    this.latency[bucketOf(s.timings.end)]!++
    this.ring[this.written % RING_SIZE] = s
    this.written++
  }

  private tryEnded(m: UpstreamTryMessage): void {
    if (m.gateway !== this.gateway) return
    const key = m.upstream + ' ' + m.target
    let t = this.targets.get(key)
    if (t === undefined) {
      t = { upstream: m.upstream, target: m.target, tries: 0, failures: 0, msSum: 0 }
      this.targets.set(key, t)
    }
    t.tries++
    t.msSum += m.ms
    if (m.code !== undefined || m.status >= 500) t.failures++
  }

  /** report returns the counters and the requests finished since the previous report. */
  report(): LiveReport {
    const from = Math.max(this.reported, this.written - RING_SIZE)
    const recent: RecentRequest[] = []
    for (let i = from; i < this.written; i++) recent.push(describe(this.ring[i % RING_SIZE]!, i))
    this.reported = this.written
    const mem = process.memoryUsage()
    const loop = this.loop
    const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0)
    const loopDelay = { mean: ms(loop.mean), p99: ms(loop.percentile(99)), max: ms(loop.max) }
    loop.reset()
    return {
      pid: process.pid,
      time: Date.now(),
      requests: this.requests,
      errors: this.errors,
      statusClasses: [...this.statusClasses],
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      latency: [...this.latency],
      targets: [...this.targets.values()].map((t) => ({ ...t })),
      memory: { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal },
      loopDelay,
      recent,
    }
  }
}

/** describe reads what the dashboard shows of a finished session. */
function describe(s: Session, seq: number): RecentRequest {
  const raw = s.head.rawHeaders
  const headers: string[] = []
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    headers.push(name, REDACTED.has(name.toLowerCase()) ? '[redacted]' : raw[i + 1]!.slice(0, 2048))
  }
  return {
    key: `${process.pid}:${seq}`,
    time: s.startedAt,
    method: s.method,
    host: s.destination === undefined ? s.host : `${s.destination.host}:${s.destination.port}`,
    path: s.method === 'CONNECT' ? '' : s.path,
    status: s.status,
    ms: Math.round(s.timings.end * 1000) / 1000,
    bytesIn: s.bytesIn,
    bytesOut: s.bytesOut,
    source: s.source,
    route: s.route?.name,
    target: s.target,
    error: s.error?.code,
    requestId: s.id,
    traceId: s.traceId,
    client: s.clientAddress,
    headers,
  }
}
