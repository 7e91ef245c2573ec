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
  private readonly balancer: Balancer<Target>

  /** `address`: where every target connects, see Target (the forward proxy's per-destination upstreams). */
  constructor(name: string, config: UpstreamConfig, deadlines: Deadlines, address?: string) {
    this.name = name
    this.config = config
    this.targets = config.targets.map((t) => new Target(t.url, t.weight, config, deadlines, address))
    this.balancer = new RoundRobin<Target>()
  }

  /** pick chooses a target for the session with the configured balancer. */
  pick(session: Session): Target | undefined {
    return this.balancer.pick(this.targets, session)
  }

  /** close stops every pool; busy connections close when their exchange ends. */
  close(): void {
    for (const t of this.targets) t.pool.close()
  }
}
