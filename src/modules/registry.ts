/**
 * Built-in modules are route-level hooks: each factory looks at a route's
 * configuration and returns the hooks it needs there, or undefined. Their
 * order here is their order in every phase (ARCHITECTURE.md: auth → rate
 * limit → cache lookup → transforms); user hooks run after them.
 */
import type { GatewayConfig, RouteConfig } from '../config/schema.ts'
import type { GatewayHooks } from '../core/hooks.ts'

/** Makes a module's hooks for one route, or undefined when the route does not use it. */
export type RouteModule = (route: RouteConfig, config: GatewayConfig) => GatewayHooks | undefined

/** The built-in route modules, in phase order. */
export const ROUTE_MODULES: readonly RouteModule[] = []

/** routeModuleHooks returns the module hooks for one route, in order. */
export function routeModuleHooks(route: RouteConfig, config: GatewayConfig): GatewayHooks[] {
  const out: GatewayHooks[] = []
  for (const make of ROUTE_MODULES) {
    const hooks = make(route, config)
    if (hooks !== undefined) out.push(hooks)
  }
  return out
}
