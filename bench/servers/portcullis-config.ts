/**
 * The configuration Portcullis runs with as a contestant (servers/portcullis.ts)
 * and under the heap profiler (heap-sample.ts): the defaults users run, in
 * front of one origin, with two limits set for the benchmark.
 */
import type { createGateway } from '../../src/index.ts'

export function contestantConfig(port: number, originPort: number): Parameters<typeof createGateway>[0] {
  return {
    listen: [{ address: `127.0.0.1:${port}` }],
    upstreams: { origin: { targets: [{ url: `http://127.0.0.1:${originPort}` }] } },
    routes: [{ name: 'all', upstream: 'origin' }],
    // The 1 GiB upload needs no body limit; the request cap per connection is
    // raised as it is for nginx, so no contestant reconnects during a run.
    limits: { maxBodySize: 0, maxRequestsPerConnection: 1_000_000 },
    accessLog: { enabled: false },
  }
}
