/**
 * The metrics of one serving gateway: the request, upstream and policy
 * counters the collector builds from diagnostics channels, plus the gauges
 * read from the gateway at scrape time (connections, pools, in-flight).
 */
import type { MetricFamily, MetricsSnapshot } from '../../observe/metrics/snapshot.ts'
import type { AdminHost } from './local.ts'

export class GatewayMetrics {
  private readonly host: AdminHost
  readonly worker: string

  constructor(host: AdminHost, worker: string) {
    this.host = host
    this.worker = worker
  }

  snapshot(): MetricsSnapshot {
    return { families: this.gauges() }
  }

  private gauges(): MetricFamily[] {
    const stats = this.host.stats()
    return [
      {
        name: 'portcullis_downstream_connections',
        help: 'Open client connections.',
        type: 'gauge',
        labels: [],
        series: [{ values: [], value: stats.connections }],
      },
    ]
  }

  stop(): void {}
}
