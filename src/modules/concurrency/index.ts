/**
 * The `concurrency` route policy: at most `max` requests of the route in
 * progress at once (from onRequest to the end of the response), up to
 * `queue` more waiting in order for a slot for at most `queueTimeout`;
 * beyond that, or after waiting that long, 503 CONCURRENCY_LIMITED with
 * Retry-After. A slot is released when the request ends (onLog), however it
 * ends, and handed straight to the oldest waiter.
 *
 * Where the count lives is the limit's `store`: `shared` (the default) is
 * the instance's count, whatever the worker count (shared-slots.ts);
 * `redis` every instance's; `memory` each worker's. In one process all
 * three are the same local count (slots.ts). A reload starts a new count
 * while old requests finish on the old.
 */
import type { GatewayHooks } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import { policyOf } from '../policy-sets.ts'
import type { RouteModule } from '../registry.ts'
import { routeKey } from '../route-key.ts'
import { SharedSlots } from './shared-slots.ts'
import { Slots } from './slots.ts'

export { Slots } from './slots.ts'

/** concurrencyModule gives a route with `concurrency` its slot hooks. */
export const concurrencyModule: RouteModule = function concurrency(route, config, context) {
  const cfg = policyOf(route, config, 'concurrency')
  if (cfg === undefined) return undefined
  const store = cfg.store === 'memory' ? undefined : context?.stores.get(cfg.store)
  // Only a store other processes share needs the store at all; one event loop counts by itself.
  const slots =
    store?.roundTrip === true ? new SharedSlots(store, `cc:${routeKey(route)}`, cfg) : new Slots(cfg)
  const hooks: GatewayHooks = {
    onRequest: function concurrencyAcquire(session: Session) {
      return slots.acquire(session)
    },
    onLog: function concurrencyRelease(session: Session): void {
      slots.release(session)
    },
  }
  return hooks
}
