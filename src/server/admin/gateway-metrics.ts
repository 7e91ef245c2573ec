/**
 * The metrics of one serving gateway: the counters the collector builds
 * from diagnostics channels, this process's health, and the gauges and
 * counters read from the gateway at scrape time (connections, pools,
 * in-flight tries, resource-limit overflows). Upstream counters kept on
 * Upstream objects are carried over when a reload replaces them, so they
 * never go backwards while the process lives.
 */
import { family, MetricsCollector } from '../../observe/metrics/collector.ts'
import { ProcessMetrics } from '../../observe/metrics/process.ts'
import type { MetricFamily, MetricsSnapshot } from '../../observe/metrics/snapshot.ts'
import type { Upstream } from '../../upstream/upstream.ts'
import type { AdminHost } from './local.ts'

/** The resource limits issue 13 keeps on an upstream (read structurally: absent on older upstreams). */
interface LimitsView {
  pending?: number
  overflow?: Record<string, number>
}

export class GatewayMetrics {
  private readonly host: AdminHost
  private readonly collector: MetricsCollector
  private readonly process: ProcessMetrics
  /** Overflow counts of upstreams a reload retired, by `upstream\0limit`. */
  private readonly retired = new Map<string, number>()

  /** `loopDelay`: measure event-loop delay here (one process); a worker's supervisor reports it from samples. */
  constructor(host: AdminHost, worker: string, loopDelay: boolean) {
    this.host = host
    this.collector = new MetricsCollector(host)
    this.process = new ProcessMetrics(worker, loopDelay)
  }

  snapshot(): MetricsSnapshot {
    return { families: [...this.collector.families(), ...this.gauges(), ...this.process.families()] }
  }

  /** retire keeps the counters of upstreams a reload is about to replace. */
  retire(upstreams: ReadonlyMap<string, Upstream>): void {
    for (const [name, u] of upstreams) {
      const overflow = (u as unknown as { limits?: LimitsView }).limits?.overflow ?? {}
      for (const [limit, v] of Object.entries(overflow)) {
        const key = `${name}\u0000${limit}`
        this.retired.set(key, (this.retired.get(key) ?? 0) + v)
      }
    }
  }

  private gauges(): MetricFamily[] {
    const stats = this.host.stats()
    const downstream = family(
      'portcullis_downstream_connections',
      'Client connections, open and idle (between requests).',
      'gauge',
      ['state'],
    )
    downstream.series.push({ values: ['open'], value: stats.connections })
    if (stats.idleConnections !== undefined)
      downstream.series.push({ values: ['idle'], value: stats.idleConnections })
    const conns = family(
      'portcullis_upstream_connections',
      'Pooled connections to a target, open (busy + idle) and idle.',
      'gauge',
      ['upstream', 'target', 'state'],
    )
    const inflight = family('portcullis_upstream_inflight', 'Tries in progress on a target.', 'gauge', [
      'upstream',
      'target',
    ])
    const available = family(
      'portcullis_upstream_target_available',
      '1 when the balancer may pick the target (not drained, healthy, circuit closed).',
      'gauge',
      ['upstream', 'target'],
    )
    const weight = family(
      'portcullis_upstream_target_weight',
      "The target's balancing weight now.",
      'gauge',
      ['upstream', 'target'],
    )
    const availableCount = family(
      'portcullis_upstream_available_targets',
      'Targets that may take requests.',
      'gauge',
      ['upstream'],
    )
    const pending = family(
      'portcullis_upstream_pending_requests',
      'Requests waiting for a connection.',
      'gauge',
      ['upstream'],
    )
    const overflows = family(
      'portcullis_upstream_overflows_total',
      'Resource-limit overflows (connections: a request waited for a busy pool; pending, requests, retries: refused).',
      'counter',
      ['upstream', 'limit'],
    )
    const seen = new Set<string>()
    for (const [name, u] of this.host.runtime.upstreams) {
      const avail = new Set(u.available)
      availableCount.series.push({ values: [name], value: u.available.length })
      for (const t of u.targets) {
        const l = [name, t.origin]
        conns.series.push(
          { values: [...l, 'open'], value: t.pool.size },
          { values: [...l, 'idle'], value: t.pool.idleCount },
        )
        inflight.series.push({ values: l, value: t.inflight })
        available.series.push({ values: l, value: avail.has(t) ? 1 : 0 })
        weight.series.push({ values: l, value: t.weight })
      }
      const limits = (u as unknown as { limits?: LimitsView }).limits
      if (limits?.pending !== undefined) pending.series.push({ values: [name], value: limits.pending })
      for (const [limit, v] of Object.entries(limits?.overflow ?? {})) {
        const key = `${name}\u0000${limit}`
        seen.add(key)
        overflows.series.push({ values: [name, limit], value: v + (this.retired.get(key) ?? 0) })
      }
    }
    for (const [key, v] of this.retired)
      if (!seen.has(key)) overflows.series.push({ values: key.split('\u0000'), value: v })
    return [downstream, conns, inflight, available, weight, availableCount, pending, overflows]
  }

  stop(): void {
    this.collector.stop()
    this.process.stop()
  }
}
