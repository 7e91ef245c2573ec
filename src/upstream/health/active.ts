/**
 * Active health checks of one upstream: a probe per target per interval for
 * the whole instance, however many workers run. Every worker ticks (with
 * jitter); at each tick it takes or renews a lease key in the store
 * (set-if-absent with a TTL), and only the holder probes. The holder
 * publishes each verdict on the store's channel and every worker applies it,
 * counters included, so when the holder dies the next one carries on where
 * it stopped. The last verdicts are also kept under a key, read by a worker
 * that starts later.
 */
import { randomBytes } from 'node:crypto'
import type { ActiveHealthConfig } from '../../config/health-schema.ts'
import { findTarget, type HealthHost, targetKey, type VerdictMessage } from './host.ts'
import type { Prober, ProbeResult } from './probe.ts'

export class ActiveChecks {
  private readonly host: HealthHost
  private readonly config: ActiveHealthConfig
  private readonly probe: Prober
  /** Who this checker is in the lease: the process and a random part (a reload makes a new checker). */
  private readonly me = `${process.pid}.${randomBytes(4).toString('hex')}`
  private readonly jitter: number
  private readonly leaseTtl: number
  /** Successes and failures in a row per target (targetKey), as the last verdict left them. */
  private readonly streaks = new Map<string, { s: number; f: number }>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private holding = false

  constructor(host: HealthHost, config: ActiveHealthConfig, probe: Prober) {
    this.host = host
    this.config = config
    this.probe = probe
    this.jitter = Math.min(config.jitter ?? config.interval / 10, config.interval / 2)
    // Outlives the holder's longest gap between two renewals (interval + jitter, plus a probe's timeout).
    this.leaseTtl = 2 * config.interval + config.timeout
  }

  /** start reads the verdicts kept by an earlier holder, then probes soon (within the jitter). */
  async start(): Promise<void> {
    const kept = await this.host.store.get(`${this.host.key}:state`).catch(() => undefined)
    if (kept !== undefined) {
      try {
        for (const m of JSON.parse(kept) as VerdictMessage[]) this.apply(m)
      } catch {
        // A malformed state key (another version wrote it) is ignored: probes rebuild it.
      }
    }
    if (!this.stopped) this.schedule(Math.random() * this.jitter)
  }

  private schedule(delay: number): void {
    this.timer = setTimeout(() => void this.tick(), delay)
    this.timer.unref()
  }

  private async tick(): Promise<void> {
    if (this.stopped) return
    this.schedule(this.config.interval + (Math.random() * 2 - 1) * this.jitter)
    if (!(await this.lease()) || this.stopped) return
    const targets = this.host.upstream.targets
    const results = await Promise.all(targets.map((t) => this.probe(t)))
    if (this.stopped) return
    const verdicts = results.map((r, i) => this.verdict(targetKey(targets[i]!), targets[i]!.healthy, r))
    for (const v of verdicts) {
      this.apply(v)
      this.host.publish(v)
    }
    this.host.store
      .set(`${this.host.key}:state`, JSON.stringify(verdicts), { ttlMs: 2 * this.leaseTtl })
      .catch(() => {})
  }

  /**
   * lease: renew it when this checker holds it, else take it when free.
   * When the store fails, probe anyway: a probe per worker beats none.
   */
  private async lease(): Promise<boolean> {
    const store = this.host.store
    const key = `${this.host.key}:lease`
    const ttlMs = this.leaseTtl
    try {
      this.holding =
        (this.holding && (await store.compareAndSet(key, this.me, this.me, { ttlMs }))) ||
        (await store.set(key, this.me, { ttlMs, ifAbsent: true }))
      return this.holding
    } catch {
      return true
    }
  }

  /** verdict counts a probe result into the target's streak and applies the thresholds. */
  private verdict(t: string, was: boolean, r: ProbeResult): VerdictMessage {
    const streak = this.streaks.get(t) ?? { s: 0, f: 0 }
    if (r.ok) {
      const s = streak.s + 1
      return { k: 'a', t, h: was || s >= this.config.healthyThreshold, s, f: 0, r: r.reason }
    }
    const f = streak.f + 1
    return { k: 'a', t, h: was && f < this.config.unhealthyThreshold, s: 0, f, r: r.reason }
  }

  /** apply takes a verdict (this worker's or another's) as the target's state. */
  apply(m: VerdictMessage): void {
    const target = findTarget(this.host.upstream, m.t)
    if (target === undefined) return
    this.streaks.set(m.t, { s: m.s, f: m.f })
    if (target.healthy === m.h) return
    target.healthy = m.h
    this.host.changed(target, m.h ? 'up' : 'down', m.r)
  }

  /** forget drops the streaks of targets DNS removed. */
  forget(keys: readonly string[]): void {
    for (const k of keys) this.streaks.delete(k)
  }

  /** stop ends the ticks and gives the lease up, so the next checker (a reload's) takes it at once. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    if (!this.holding) return
    this.holding = false
    const key = `${this.host.key}:lease`
    await this.host.store.compareAndSet(key, this.me, '', { ttlMs: 1 }).catch(() => {})
  }
}
