/**
 * An Upstream is a named group of targets (target.ts) with a balancer.
 */
import type { UpstreamConfig } from '../config/schema.ts'
import type { Deadlines } from '../core/deadlines.ts'
import type { Session } from '../core/session.ts'
import type { Balancer } from './balancers/balancer.ts'
import { RoundRobin } from './balancers/round-robin.ts'
import { Target } from './target.ts'

export { Target } from './target.ts'

export class Upstream {
  readonly name: string
  readonly targets: readonly Target[]
  readonly config: UpstreamConfig
  /**
   * The targets that may take new requests now (not drained; health and
   * breakers add their own exclusions in `refresh`). A new array whenever the
   * set changes, never mutated, so a balancer may cache what it derives from
   * it (a hash ring, a Maglev table) by identity.
   */
  available: readonly Target[]
  private readonly balancer: Balancer<Target>

  /** `address`: where every target connects, see Target (the forward proxy's per-destination upstreams). */
  constructor(name: string, config: UpstreamConfig, deadlines: Deadlines, address?: string) {
    this.name = name
    this.config = config
    this.targets = config.targets.map((t) => new Target(t.url, t.weight, config, deadlines, address))
    this.balancer = new RoundRobin<Target>()
    this.available = this.targets
  }

  /**
   * refresh recomputes `available` after a target's state changed (drained,
   * health, ejection). Called on changes, never per request.
   */
  refresh(): void {
    const next = this.targets.filter((t) => !t.drained)
    const prev = this.available
    if (next.length !== prev.length || next.some((t, i) => t !== prev[i])) this.available = next
  }

  /**
   * pick chooses a target for the session with the configured balancer among
   * the available ones; `exclude` (a target that just failed) is avoided
   * when another is available.
   */
  pick(session: Session, exclude?: Target): Target | undefined {
    const available = this.available
    if (exclude === undefined || available.length < 2 || !available.includes(exclude))
      return this.balancer.pick(available, session)
    return this.balancer.pick(
      available.filter((t) => t !== exclude),
      session,
    )
  }

  /** close stops every pool; busy connections close when their exchange ends. */
  close(): void {
    for (const t of this.targets) t.pool.close()
  }
}
