/**
 * What the dashboard's collector (src/observe/dashboard/live-stats.ts) costs
 * per request: the request-end and upstream-try publishes with LiveStats
 * subscribed, against no subscriber. In one process, no network, so the
 * figure is the collector's own work.
 *
 * Usage: node --max-semi-space-size=2 bench/dashboard-cost.ts
 */
import { Session } from '../src/core/session.ts'
import { requestEndChannel, upstreamTryChannel } from '../src/observe/channels.ts'
import { LiveStats } from '../src/observe/dashboard/live-stats.ts'
const gw = {}
const head = {
  method: 'GET',
  target: '/x',
  host: 'h',
  rawHeaders: ['Host', 'h', 'authorization', 'x'],
  minor: 1,
} as unknown as ConstructorParameters<typeof Session>[0]
const N = 2_000_000
const sessions = Array.from({ length: 1000 }, () => {
  const s = new Session(head, '127.0.0.1', 1, false, 0)
  s.status = 200
  s.timings.end = 0.5
  return s
})
function run(label: string) {
  const c0 = process.cpuUsage()
  for (let i = 0; i < N; i++) {
    const s = sessions[i % 1000]!
    if (upstreamTryChannel.hasSubscribers)
      upstreamTryChannel.publish({
        gateway: gw,
        session: s,
        upstream: 'u',
        target: 'http://t:1',
        status: 200,
        code: undefined,
        error: undefined,
        ms: 0.4,
        attempt: 1,
      })
    if (requestEndChannel.hasSubscribers) requestEndChannel.publish({ gateway: gw, session: s })
  }
  const c = process.cpuUsage(c0)
  console.log(label, (((c.user + c.system) * 1000) / N).toFixed(0), 'ns per request')
}
run('no subscriber')
const stats = new LiveStats(gw)
run('LiveStats (publish + collect)')
run('LiveStats (publish + collect)')
const r = stats.report()
console.log('requests counted', r.requests, 'recent', r.recent.length)
stats.stop()
