/**
 * retryPolicyFor gives the retry policy of a route on its upstream, compiled
 * once (routes and upstreams are rebuilt together on reload, so a cache by
 * identity never goes stale). A route and upstream without `retries` get
 * null from two property reads, with no lookup.
 */
import type { CompiledRoute } from '../routing/router.ts'
import { compileRetryPolicy, type RetryPolicy } from '../upstream/retry/policy.ts'
import type { Upstream } from '../upstream/upstream.ts'

const compiled = new WeakMap<Upstream, WeakMap<CompiledRoute, RetryPolicy | null>>()

export function retryPolicyFor(route: CompiledRoute, upstream: Upstream): RetryPolicy | null {
  const own = upstream.config.retries
  const override = route.config.retries
  if (own === undefined && override === undefined) return null
  let byRoute = compiled.get(upstream)
  if (byRoute === undefined) compiled.set(upstream, (byRoute = new WeakMap()))
  let policy = byRoute.get(route)
  if (policy === undefined) byRoute.set(route, (policy = compileRetryPolicy(own, override)))
  return policy
}
