/**
 * The `rateLimit` route policy: before a request goes on (onRequest), each
 * of the route's limits takes one decision from its store, one atomic update
 * of one key (algorithms.ts). A denial answers 429 RATE_LIMITED with
 * Retry-After and the RateLimit fields (fields.ts); an allowed proxied
 * response carries the RateLimit fields too.
 *
 * State lives only in the store a limit names (memory, shared, redis), so
 * `shared` is exact across workers and `redis` across instances. A limit
 * listed once under `rateLimits` and named by several routes keeps one key
 * space: it is one limit. When the store fails or misses its deadline
 * (`stores.redis.timeout`, `stores.shared.timeout`), `failMode` decides:
 * `open` lets the request through, `closed` answers 503; either way the
 * failure is published on `portcullis:rate-limit:store-failure`.
 */
import type { GatewayHooks, HookResult, MaybePromise, ResponseHeadView } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import type { Store } from '../../store/store.ts'
import { addPolicyFields, applyPolicyFields, policyError } from '../policy-response.ts'
import { policyOf } from '../policy-sets.ts'
import { routeKey } from '../route-key.ts'
import type { ModuleContext, RouteModule } from '../registry.ts'
import { type Decision, gcra, gcraGiveBack, slidingWindow, slidingWindowGiveBack } from './algorithms.ts'
import { FailureCounter } from './failures.ts'
import { addFields, type LimitFacts, policyItem, retryAfterSeconds } from './fields.ts'
import { compileKey, type KeyPart, storeKey } from './keys.ts'
import { LeaseBook } from './leases.ts'
import type { LimitConfig } from '../../config/modules/rate-limit.ts'

export { rateLimitFailureChannel, type RateLimitFailureMessage, setRateLimitLog } from './failures.ts'

/** One limit of a route, compiled. */
interface CompiledLimit extends LimitFacts {
  readonly store: Store
  readonly script: typeof gcra
  readonly args: readonly string[]
  readonly key: KeyPart
  readonly failMode: 'open' | 'closed'
  readonly headers: boolean
  /** With workers on the shared store: decisions taken ahead (leases.ts); else one store update each. */
  readonly leases: LeaseBook | undefined
  /** Store failures of this limit in this worker: counted and logged (failures.ts). */
  readonly failures: FailureCounter
}

/** rateLimitModule gives a route with `rateLimit` its onRequest decision and onResponse fields. */
export const rateLimitModule: RouteModule = function rateLimit(route, config, context) {
  const items = policyOf(route, config, 'rateLimit')
  if (items === undefined) return undefined
  if (context === undefined) throw new Error('rateLimit: needs the gateway module context (stores)')
  const routeName = routeKey(route)
  const limits = items.map((item, i) => {
    if (typeof item === 'string') return compileLimit(item, config.rateLimits[item]!, context)
    return compileLimit(items.length === 1 ? routeName : `${routeName}.${i}`, item, context)
  })
  const hooks: GatewayHooks = {
    onRequest: function rateLimitRequest(session: Session): MaybePromise<HookResult | undefined> {
      return decide(session, limits, routeName)
    },
  }
  if (limits.some((l) => l.headers))
    hooks.onResponse = function rateLimitFields(session: Session, res: ResponseHeadView): void {
      applyPolicyFields(session, res)
    }
  return hooks
}

function compileLimit(name: string, l: LimitConfig, context: ModuleContext): CompiledLimit {
  const { count, periodMs } = l.rate
  const gcraLimit = l.algorithm === 'gcra'
  const burst = l.burst ?? count
  const store = context.stores.get(l.store)
  // GCRA: the emission interval T and the burst; sliding window: the period and the limit.
  const args = gcraLimit ? [String(periodMs / count), String(burst)] : [String(periodMs), String(count)]
  // A lease's worst case on GCRA is its time's worth of refill early (leases.ts): at most 1 % of the burst's.
  const validMs = gcraLimit ? Math.min(l.lease, ((periodMs / count) * burst) / 100) : l.lease
  const leases =
    store.kind === 'shared' && store.roundTrip === true && validMs > 0
      ? new LeaseBook(store, {
          lease: gcraLimit ? gcra : slidingWindow,
          giveBack: gcraLimit ? gcraGiveBack : slidingWindowGiveBack,
          args,
          unit: args[0]!,
          validMs,
        })
      : undefined
  return {
    name,
    policyItem: policyItem(name, gcraLimit ? burst : count, periodMs),
    store,
    script: gcraLimit ? gcra : slidingWindow,
    args,
    leases,
    key: compileKey(l.key, context.trusts),
    failMode: l.failMode,
    headers: l.headers,
    failures: new FailureCounter(),
  }
}

/** What decide has decided so far, in order. */
interface Progress {
  readonly limits: CompiledLimit[]
  readonly decisions: Decision[]
}

/**
 * decide takes each limit's decision in order, from limit `from` on; the
 * first denial answers 429. It stays synchronous while the decisions are
 * (a worker's leases, leases.ts): no promise is made for those requests.
 */
function decide(
  session: Session,
  limits: readonly CompiledLimit[],
  route: string,
  from = 0,
  done: Progress = { limits: [], decisions: [] },
): MaybePromise<HookResult | undefined> {
  for (let i = from; i < limits.length; i++) {
    const l = limits[i]!
    let d: Decision | Promise<Decision>
    try {
      const key = storeKey(l.name, l.key(session))
      d = l.leases === undefined ? l.store.update(key, l.script, l.args) : l.leases.take(key)
    } catch (error) {
      d = Promise.reject(error)
    }
    if (d instanceof Promise)
      return d.then(
        (decision) =>
          decided(session, l, route, decision, done) ?? decide(session, limits, route, i + 1, done),
        (error) => failed(session, l, route, error) ?? decide(session, limits, route, i + 1, done),
      )
    const denial = decided(session, l, route, d, done)
    if (denial !== undefined) return denial
  }
  const shown = done.limits.filter((l) => l.headers)
  if (shown.length > 0) {
    const fields: string[] = []
    addFields(
      fields,
      shown,
      done.decisions.filter((_, i) => done.limits[i]!.headers),
    )
    addPolicyFields(session, fields)
  }
  return undefined
}

/** decided records limit `l`'s decision; a denial is the 429 answer. */
function decided(
  session: Session,
  l: CompiledLimit,
  route: string,
  d: Decision,
  done: Progress,
): HookResult | undefined {
  l.failures.succeeded(route, l.name)
  done.limits.push(l)
  done.decisions.push(d)
  if (d[0] !== 0) return undefined
  const fields = ['Retry-After', String(retryAfterSeconds(d))]
  addFields(fields, done.limits, done.decisions)
  return policyError(session, 'RATE_LIMITED', fields, `rate limit ${l.name} exceeded`)
}

/** failed handles a store failure by the limit's failMode: closed answers 503, open goes on. */
function failed(session: Session, l: CompiledLimit, route: string, error: unknown): HookResult | undefined {
  l.failures.failed(route, l.name, l.failMode, error)
  if (l.failMode === 'open') return undefined
  return policyError(session, 'RATE_LIMIT_UNAVAILABLE', [], `rate limit ${l.name}: store failed`)
}
