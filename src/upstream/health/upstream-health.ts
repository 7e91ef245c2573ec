/**
 * UpstreamHealth runs the health checks of one upstream (its `health:`
 * section): active probes (active.ts), passive outlier detection
 * (passive.ts), both sharing their decisions with the other workers through
 * one channel of the configured store, and panic mode through
 * Upstream.refresh.
 */
import { createHash } from 'node:crypto'
import type { HealthConfig } from '../../config/health-schema.ts'
import type { Store, Unsubscribe } from '../../store/store.ts'
import type { Target, Upstream } from '../upstream.ts'
import { ActiveChecks } from './active.ts'
import {
  type HealthEvent,
  type HealthHost,
  type HealthListener,
  type HealthMessage,
  targetKey,
} from './host.ts'
import { PassiveChecks } from './passive.ts'
import { prober } from './probe.ts'

export class UpstreamHealth implements HealthHost {
  readonly upstream: Upstream
  readonly store: Store
  readonly key: string
  readonly active: ActiveChecks | undefined
  readonly passive: PassiveChecks | undefined
  private readonly listener: HealthListener
  private unsubscribe: Promise<Unsubscribe | undefined> | undefined
  private stopped = false

  constructor(upstream: Upstream, config: HealthConfig, store: Store, listener: HealthListener) {
    this.upstream = upstream
    this.store = store
    this.listener = listener
    // Workers share decisions only with checkers of the same targets and checks: a
    // reload that changes them, or another gateway's upstream of the same name, is apart.
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([upstream.config.targets.map((t) => t.url), config.active, config.passive]))
      .digest('base64url')
      .slice(0, 12)
    this.key = `portcullis:health:${upstream.name}:${fingerprint}`
    this.active =
      config.active === undefined
        ? undefined
        : new ActiveChecks(this, config.active, prober(config.active, upstream.config))
    this.passive = config.passive === undefined ? undefined : new PassiveChecks(this, config.passive)
  }

  /** start registers the passive observers at once, then subscribes and starts probing. */
  start(): void {
    this.passive?.start()
    this.upstream.targetsListeners.push(this.targetsChanged)
    this.unsubscribe = this.store.subscribe(this.key, (m) => this.receive(m)).catch(() => undefined)
    void this.unsubscribe.then(() => (this.stopped ? undefined : this.active?.start()))
  }

  /** targetsChanged: DNS re-resolution added or removed targets. */
  private readonly targetsChanged = (added: readonly Target[], removed: readonly Target[]): void => {
    if (this.stopped) return
    this.passive?.targetsChanged(added, removed)
    this.active?.forget(removed.map(targetKey))
  }

  private receive(raw: string): void {
    if (this.stopped) return
    const m = JSON.parse(raw) as HealthMessage
    if (m.k === 'a') this.active?.apply(m)
    else if (m.k === 'e') this.passive?.apply(m)
  }

  publish(message: HealthMessage): void {
    this.store.publish(this.key, JSON.stringify(message)).catch(() => {})
  }

  changed(target: Target, event: HealthEvent['event'], reason: string): void {
    const upstream = this.upstream
    const wasPanic = upstream.panic
    upstream.refresh()
    this.report(target, event, reason)
    if (upstream.panic !== wasPanic)
      this.report(target, upstream.panic ? 'panic' : 'calm', `${upstream.available.length} targets available`)
  }

  private report(target: Target, event: HealthEvent['event'], reason: string): void {
    try {
      this.listener({
        upstream: this.upstream.name,
        target: target.origin,
        event,
        healthy: target.healthy,
        ejectedUntil: target.ejectedUntil,
        ejections: target.ejections,
        consecutiveFailures: target.consecutiveFailures,
        panic: this.upstream.panic,
        reason,
      })
    } catch {
      // A listener's failure must not stop health checking.
    }
  }

  /** stop ends probing and observing; resolves once the lease is given up and the subscription gone. */
  async stop(): Promise<void> {
    this.stopped = true
    const listeners = this.upstream.targetsListeners
    if (listeners.includes(this.targetsChanged)) listeners.splice(listeners.indexOf(this.targetsChanged), 1)
    this.passive?.stop()
    await this.active?.stop()
    const unsubscribe = await this.unsubscribe
    await unsubscribe?.().catch(() => {})
  }
}

/** Health checks of every upstream that has a `health:` section; `stop` ends them all. */
export interface HealthChecks {
  readonly upstreams: readonly UpstreamHealth[]
  stop(): Promise<void>
}

/**
 * startHealth starts the checks of each upstream with a `health:` section.
 * `store` gives the store of a kind (the gateway's StoreRegistry.get).
 */
export function startHealth(
  upstreams: Iterable<Upstream>,
  store: (kind: HealthConfig['store']) => Store,
  listener: HealthListener,
): HealthChecks {
  const list: UpstreamHealth[] = []
  for (const u of upstreams) {
    const config = u.config.health
    if (config === undefined || (config.active === undefined && config.passive === undefined)) continue
    list.push(new UpstreamHealth(u, config, store(config.store), listener))
  }
  for (const h of list) h.start()
  return {
    upstreams: list,
    stop: async () => void (await Promise.all(list.map((h) => h.stop()))),
  }
}
