/**
 * Policy sets: route policies listed once under a top-level name
 * (`policies:`) and named by routes (`policies: [NAME …]`); a set named
 * `default` applies to every route that names none (`policies: []` opts a
 * route out). A route's own key wins over its sets' (whole keys: a route's
 * `auth` replaces a set's `auth`); among sets, the first listed wins.
 * Resolved when routes are compiled, so they cost nothing per request.
 */
import type { GatewayConfig, RouteConfig } from '../config/schema.ts'
import type { PolicyKey } from '../config/modules/policy-sets.ts'

export { POLICY_KEYS, type PolicyKey } from '../config/modules/policy-sets.ts'

/** policyOf returns a route's `key` policy: its own, else its sets' (or `default`'s). */
export function policyOf<K extends PolicyKey>(
  route: RouteConfig,
  config: GatewayConfig,
  key: K,
): RouteConfig[K] | undefined {
  const own = route[key]
  if (own !== undefined) return own
  const sets = config.policies
  if (sets === undefined) return undefined
  const names = route.policies ?? (sets.default === undefined ? [] : ['default'])
  for (const name of names) {
    const v = sets[name]?.[key]
    if (v !== undefined) return v as RouteConfig[K]
  }
  return undefined
}
