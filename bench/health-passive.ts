/**
 * The per-try cost of passive health checks, which ab-cpu.sh cannot resolve
 * on a loaded 2-core machine (its rounds spread ±10% there): CPU time of
 * Target.tryStarted + tryEnded (a successful try) without observers, then
 * with the passive checks' observer registered, median of 5 rounds of OPS
 * tries each. Compare the difference with ab-cpu.sh's CPU per request
 * (≈ 60-100 µs for a small GET).
 *
 * Usage: node bench/health-passive.ts   (OPS=20000000 by default)
 */
import { validateConfig } from '../src/config/load.ts'
import { Deadlines } from '../src/core/deadlines.ts'
import type { HealthHost } from '../src/upstream/health/host.ts'
import { PassiveChecks } from '../src/upstream/health/passive.ts'
import { Upstream } from '../src/upstream/upstream.ts'

const OPS = Number(process.env.OPS ?? 20_000_000)
const loaded = validateConfig({
  listen: [{ address: '127.0.0.1:0' }],
  upstreams: { o: { targets: [{ url: 'http://127.0.0.1:1' }], health: { passive: {} } } },
  routes: [{ upstream: 'o' }],
})
if (!loaded.ok) throw new Error('bench config refused')
const config = loaded.config.upstreams.o!
const deadlines = new Deadlines(1000)
const upstream = new Upstream('o', config, deadlines)
const target = upstream.targets[0]!

function nsPerTry(): number {
  const rounds: number[] = []
  for (let r = 0; r < 6; r++) {
    const t0 = process.cpuUsage()
    for (let i = 0; i < OPS; i++) {
      target.tryStarted()
      target.tryEnded(200, undefined, 1)
    }
    const c = process.cpuUsage(t0)
    if (r > 0) rounds.push(((c.user + c.system) * 1000) / OPS) // the first warms the JIT up
  }
  return rounds.sort((a, b) => a - b)[2]!
}

const without = nsPerTry()
const host = { upstream, store: undefined, key: 'bench', publish() {}, changed() {} } as unknown as HealthHost
new PassiveChecks(host, config.health!.passive!).start()
const withPassive = nsPerTry()
console.log(`no observer:      ${without.toFixed(2)} ns per try`)
console.log(
  `passive observer: ${withPassive.toFixed(2)} ns per try (+${(withPassive - without).toFixed(2)} ns)`,
)
upstream.close()
deadlines.stop()
