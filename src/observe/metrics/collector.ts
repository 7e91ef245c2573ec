/**
 * The request and upstream metrics of one gateway, fed by diagnostics
 * channels (src/observe/channels.ts, and the policy modules' and stores'
 * channels, subscribed by name so observe/ imports none of them). Created
 * only when `admin.metrics` is on: with none, nothing is subscribed and the
 * core's `hasSubscribers` checks stay false.
 *
 * Labels are bounded by construction: route and upstream names come from
 * the configuration, targets are configured origins, methods outside the
 * standard set count as OTHER, and codes are the stable error codes. No
 * path, client address or request id becomes a label value.
 *
 * Hand-written rather than prom-client: bench/metrics-cost.ts measures both
 * on the per-request update (docs/admin-api.md, "Metrics" has the figures).
 */
import diagnostics from 'node:diagnostics_channel'
import type { Session } from '../../core/session.ts'
import {
  type RequestEndMessage,
  requestEndChannel,
  type UpstreamTryMessage,
  upstreamTryChannel,
} from '../channels.ts'
import { Histogram } from './histogram.ts'
import type { MetricFamily } from './snapshot.ts'

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE', 'OTHER']
const OTHER_METHOD = METHODS.length - 1
/** Index 0 is "no response" (status 0); 1–5 are 1xx–5xx. */
const CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx']

/** What a policy answered, by the stable code it answered with. */
const POLICY_OUTCOMES: Readonly<Record<string, string>> = {
  RATE_LIMITED: 'rate_limited',
  UNAUTHENTICATED: 'unauthenticated',
  FORBIDDEN: 'forbidden',
  CONCURRENCY_LIMITED: 'concurrency_limited',
  RATE_LIMIT_UNAVAILABLE: 'rate_limit_unavailable',
  AUTH_UNAVAILABLE: 'auth_unavailable',
  TOO_MANY_UPLOADS: 'too_many_uploads',
  PROXY_AUTH_REQUIRED: 'proxy_unauthenticated',
  DESTINATION_FORBIDDEN: 'destination_forbidden',
}

/** Requests with no route (404 NO_ROUTE, malformed heads) count under this route label. */
const NO_ROUTE = '(none)'

class RouteSeries {
  readonly upstream: string
  /** Requests by method × status class. */
  readonly counts = new Float64Array(METHODS.length * CLASSES.length)
  readonly duration = new Histogram()
  bytesIn = 0
  bytesOut = 0
  constructor(upstream: string) {
    this.upstream = upstream
  }
}

class TargetSeries {
  /** Tries by status class of their response (index 0: none, the try failed). */
  readonly tries = new Float64Array(CLASSES.length)
  readonly duration = new Histogram()
  readonly errors = new Map<string, number>()
  retries = 0
}

export class MetricsCollector {
  private readonly gateway: object
  private readonly routes = new Map<string, RouteSeries>()
  private readonly targets = new Map<string, Map<string, TargetSeries>>()
  private readonly errors = new Map<string, number>()
  /** Keys `route\0outcome`. */
  private readonly policies = new Map<string, number>()
  /** Keys `route\0limit\0failMode`. */
  private readonly rateLimitFailures = new Map<string, number>()
  private readonly named = new Map<string, number>()
  private readonly tls = { ok: 0, failed: 0 }
  private readonly subscriptions: [string, (m: unknown) => void][] = []

  constructor(gateway: object) {
    this.gateway = gateway
    this.onRequestEnd = this.onRequestEnd.bind(this)
    this.onTry = this.onTry.bind(this)
    requestEndChannel.subscribe(this.onRequestEnd as (m: unknown) => void)
    upstreamTryChannel.subscribe(this.onTry as (m: unknown) => void)
    this.on('portcullis:rate-limit:store-failure', (m) => {
      const { route, limit, failMode } = m as { route: string; limit: string; failMode: string }
      bump(this.rateLimitFailures, `${route}\u0000${limit}\u0000${failMode}`)
    })
    this.on('portcullis:tls:handshake', (m) => {
      const { gateway, ok } = m as { gateway: object; ok: boolean }
      if (gateway === this.gateway) this.tls[ok ? 'ok' : 'failed']++
    })
    for (const name of ['portcullis:jwt:jwks-error', 'portcullis:store:error'])
      this.on(name, () => bump(this.named, name))
  }

  private on(name: string, fn: (m: unknown) => void): void {
    diagnostics.subscribe(name, fn)
    this.subscriptions.push([name, fn])
  }

  /** Per request, after its last byte: a map lookup, two array increments, one histogram scan. */
  private onRequestEnd(m: RequestEndMessage): void {
    if (m.gateway !== this.gateway) return
    const s: Session = m.session
    const route = s.route
    const name = route === undefined ? NO_ROUTE : route.name
    let r = this.routes.get(name)
    if (r === undefined) {
      r = new RouteSeries(route?.upstream ?? '')
      this.routes.set(name, r)
    }
    r.counts[methodIndex(s.method) * CLASSES.length + statusClass(s.status)]!++
    const ms = s.timings.end > 0 ? s.timings.end : performance.now() - s.t0
    r.duration.observe(ms / 1000)
    r.bytesIn += s.bytesIn
    r.bytesOut += s.bytesOut
    const err = s.error
    if (err !== undefined) {
      bump(this.errors, err.code)
      const outcome = POLICY_OUTCOMES[err.code]
      if (outcome !== undefined) bump(this.policies, `${name}\u0000${outcome}`)
    }
  }

  /** Per upstream try. */
  private onTry(m: UpstreamTryMessage): void {
    if (m.gateway !== this.gateway) return
    let byTarget = this.targets.get(m.upstream)
    if (byTarget === undefined) {
      byTarget = new Map()
      this.targets.set(m.upstream, byTarget)
    }
    let t = byTarget.get(m.target)
    if (t === undefined) {
      t = new TargetSeries()
      byTarget.set(m.target, t)
    }
    t.tries[statusClass(m.status)]!++
    t.duration.observe(m.ms / 1000)
    if (m.code !== undefined) bump(t.errors, m.code)
    if (m.attempt > 1) t.retries++
  }

  /** families renders everything counted so far. */
  families(): MetricFamily[] {
    return [...this.requestFamilies(), ...this.tryFamilies(), ...this.outcomeFamilies()]
  }

  private requestFamilies(): MetricFamily[] {
    const requests = family(
      'portcullis_requests_total',
      'Requests by route, upstream, method and status class.',
      'counter',
      ['route', 'upstream', 'method', 'status_class'],
    )
    const duration = histogramFamily(
      'portcullis_request_duration_seconds',
      'Time from the first request byte to the last response byte.',
      ['route'],
    )
    const bytesIn = family(
      'portcullis_request_body_bytes_total',
      'Request body bytes received from clients.',
      'counter',
      ['route'],
    )
    const bytesOut = family(
      'portcullis_response_bytes_total',
      'Response bytes (head and body) written to clients.',
      'counter',
      ['route'],
    )
    for (const [name, r] of this.routes) {
      for (let i = 0; i < r.counts.length; i++) {
        const v = r.counts[i]!
        if (v === 0) continue
        const method = METHODS[Math.floor(i / CLASSES.length)]!
        requests.series.push({ values: [name, r.upstream, method, CLASSES[i % CLASSES.length]!], value: v })
      }
      duration.series.push(r.duration.series([name]))
      bytesIn.series.push({ values: [name], value: r.bytesIn })
      bytesOut.series.push({ values: [name], value: r.bytesOut })
    }
    return [requests, duration, bytesIn, bytesOut]
  }

  private tryFamilies(): MetricFamily[] {
    const tries = family(
      'portcullis_upstream_tries_total',
      'Tries on upstream targets by the status class of their response (none: the try failed).',
      'counter',
      ['upstream', 'target', 'status_class'],
    )
    const duration = histogramFamily(
      'portcullis_upstream_try_duration_seconds',
      "From a target's pick to the try's end.",
      ['upstream', 'target'],
    )
    const errors = family(
      'portcullis_upstream_try_errors_total',
      'Failed tries by stable error code.',
      'counter',
      ['upstream', 'target', 'code'],
    )
    const retries = family(
      'portcullis_upstream_retries_total',
      'Tries that were retries (attempt 2 and later).',
      'counter',
      ['upstream', 'target'],
    )
    for (const [upstream, byTarget] of this.targets) {
      for (const [target, t] of byTarget) {
        t.tries.forEach((v, i) => {
          if (v > 0) tries.series.push({ values: [upstream, target, CLASSES[i]!], value: v })
        })
        duration.series.push(t.duration.series([upstream, target]))
        for (const [code, v] of t.errors) errors.series.push({ values: [upstream, target, code], value: v })
        retries.series.push({ values: [upstream, target], value: t.retries })
      }
    }
    return [tries, duration, errors, retries]
  }

  private outcomeFamilies(): MetricFamily[] {
    const tls = family(
      'portcullis_tls_handshakes_total',
      'TLS handshakes on the listeners, by result.',
      'counter',
      ['result'],
    )
    tls.series.push({ values: ['ok'], value: this.tls.ok }, { values: ['failed'], value: this.tls.failed })
    return [
      fromMap(
        'portcullis_errors_total',
        'Requests that failed, by stable error code.',
        ['code'],
        this.errors,
      ),
      fromMap(
        'portcullis_policy_outcomes_total',
        'Requests a policy answered (rate limited, unauthenticated …) by route.',
        ['route', 'outcome'],
        this.policies,
      ),
      fromMap(
        'portcullis_rate_limit_store_failures_total',
        'Rate-limit decisions whose store failed, by the mode that decided.',
        ['route', 'limit', 'fail_mode'],
        this.rateLimitFailures,
      ),
      tls,
      fromMap(
        'portcullis_dependency_errors_total',
        'Failures of what policies depend on (JWKS fetches, stores).',
        ['channel'],
        this.named,
        (k) => [k.slice('portcullis:'.length)],
      ),
    ]
  }

  stop(): void {
    requestEndChannel.unsubscribe(this.onRequestEnd as (m: unknown) => void)
    upstreamTryChannel.unsubscribe(this.onTry as (m: unknown) => void)
    for (const [name, fn] of this.subscriptions) diagnostics.unsubscribe(name, fn)
  }
}

function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0
    case 'HEAD':
      return 1
    case 'POST':
      return 2
    case 'PUT':
      return 3
    case 'DELETE':
      return 4
    case 'PATCH':
      return 5
    case 'OPTIONS':
      return 6
    case 'CONNECT':
      return 7
    case 'TRACE':
      return 8
    default:
      return OTHER_METHOD
  }
}

function statusClass(status: number): number {
  const c = (status / 100) | 0
  return c >= 1 && c <= 5 ? c : 0
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}

/** fromMap is a counter family from a map whose keys are the label values joined by NUL. */
function fromMap(
  name: string,
  help: string,
  labels: string[],
  map: Map<string, number>,
  values: (key: string) => string[] = (key) => key.split('\u0000'),
): MetricFamily {
  const f = family(name, help, 'counter', labels)
  for (const [key, v] of map) f.series.push({ values: values(key), value: v })
  return f
}

/** family starts an empty counter or gauge family. */
export function family(
  name: string,
  help: string,
  type: 'counter' | 'gauge',
  labels: string[],
): Extract<MetricFamily, { type: 'counter' | 'gauge' }> {
  return { name, help, type, labels, series: [] }
}

function histogramFamily(
  name: string,
  help: string,
  labels: string[],
): Extract<MetricFamily, { type: 'histogram' }> {
  return { name, help, type: 'histogram', labels, bounds: [...new Histogram().bounds], series: [] }
}
