/**
 * The effective configuration of one route, as the gateway applies it: the
 * route's own keys, each policy it takes from a policy set (policyOf), the
 * global proxy settings it does not override, the limits and timeouts that
 * apply, and its upstream's configuration.
 */
import type { GatewayConfig } from '../../config/schema.ts'
import { POLICY_KEYS, policyOf } from '../../modules/policy-sets.ts'

export function effectiveRoute(config: GatewayConfig, name: string): Record<string, unknown> | undefined {
  const index = config.routes.findIndex((r, i) => (r.name ?? `route-${i}`) === name)
  if (index === -1) return undefined
  const route = config.routes[index]!
  const policies: Record<string, unknown> = {}
  for (const key of POLICY_KEYS) {
    const own = route[key] !== undefined
    const v = policyOf(route, config, key)
    if (v !== undefined) policies[key] = { from: own ? 'route' : 'policy set', value: v }
  }
  return {
    name,
    index,
    route,
    policies,
    proxy: {
      ...config.proxy,
      preserveHost: route.preserveHost ?? config.proxy.preserveHost,
      upgrades: route.upgrades ?? config.proxy.upgrades,
    },
    limits: config.limits,
    timeouts: config.timeouts,
    upstream:
      route.upstream === undefined ? null : { name: route.upstream, ...config.upstreams[route.upstream] },
  }
}
