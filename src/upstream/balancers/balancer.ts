/**
 * The balancer capability: pick one target for a request. Implementations
 * live beside this file and all pass the shared conformance test in
 * balancer.test.ts.
 */
import type { Session } from '../../core/session.ts'

/** What a balancer needs to know of a target. */
export interface Weighted {
  readonly weight: number
}

export interface Balancer<T extends Weighted> {
  /** pick returns the target for `session`, or undefined when `targets` is empty. */
  pick(targets: readonly T[], session: Session | undefined): T | undefined
}
