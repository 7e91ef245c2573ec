/**
 * Built-in modules are route-level hooks: each factory looks at a route's
 * configuration and returns the hooks it needs there, or undefined. Their
 * order here is their order in every phase (ARCHITECTURE.md: auth → rate
 * limit → cache lookup → transforms); user hooks run after them.
 */
import type { GatewayConfig, RouteConfig } from '../config/schema.ts'
import type { GatewayHooks } from '../core/hooks.ts'
import type { StoreRegistry } from '../store/registry.ts'
import type { TrustCheck } from './client-address.ts'
import { accessModule } from './access/index.ts'
import { apiKeyModule } from './api-key/index.ts'
import { basicAuthModule } from './basic-auth/index.ts'
import { compressModule } from './compress/index.ts'
import { concurrencyModule } from './concurrency/index.ts'
import { corsModule } from './cors/index.ts'
import { forwardAuthModule } from './forward-auth/index.ts'
import { headersModule } from './headers/index.ts'
import { jwtModule } from './jwt/index.ts'
import { rateLimitModule } from './rate-limit/index.ts'
import { redirectModule } from './redirect/index.ts'
import { rewriteModule } from './rewrite/index.ts'
import { staticFiles } from './static/index.ts'

/**
 * What the gateway gives modules besides the configuration: the stores that
 * hold their state (one registry per gateway, kept across reloads, so a
 * limit survives a reload) and which peers are trusted proxies.
 */
export interface ModuleContext {
  readonly stores: StoreRegistry
  /** Whether an address is one of `proxy.trustedProxies` (see client-address.ts). */
  readonly trusts: TrustCheck
}

/**
 * Makes a module's hooks for one route, or undefined when the route does not
 * use it. `context` is always given by the gateway; stateless modules'
 * unit tests may leave it out.
 */
export type RouteModule = (
  route: RouteConfig,
  config: GatewayConfig,
  context?: ModuleContext,
) => GatewayHooks | undefined

/** The built-in route modules, in phase order. */
export const ROUTE_MODULES: readonly RouteModule[] = [
  // Policies first: a request refused costs nothing further. Access lists,
  // then CORS (a preflight carries no credentials, so it is answered before
  // auth), then auth, then rate limits (which key on the consumer and claims).
  accessModule,
  corsModule,
  jwtModule,
  apiKeyModule,
  basicAuthModule,
  forwardAuthModule,
  rateLimitModule,
  // Last of the policies: a slot is taken only by a request that will go on.
  concurrencyModule,
  // Request transforms: rewrite first, so it sees the upstream path as the gateway built it.
  rewriteModule,
  headersModule,
  // Last: its onResponse must see the headers other modules set (Cache-Control, Vary, Content-Type).
  compressModule,
]

/**
 * Route actions performed by modules. Their `onRequest` is the route's
 * action: it runs after every onRequest hook (modules' and the user's), so
 * that auth or rate limits guard static files and redirects too.
 */
export const ROUTE_ACTIONS: readonly RouteModule[] = [redirectModule, staticFiles]

type RequestHook = NonNullable<GatewayHooks['onRequest']>

/** routeAction returns the module action of a route, if its action is one. */
export function routeAction(
  route: RouteConfig,
  config: GatewayConfig,
  context: ModuleContext,
): RequestHook | undefined {
  for (const make of ROUTE_ACTIONS) {
    const hooks = make(route, config, context)
    if (hooks?.onRequest !== undefined) return hooks.onRequest.bind(hooks)
  }
  return undefined
}

/** routeModuleHooks returns the module hooks for one route, in order. */
export function routeModuleHooks(
  route: RouteConfig,
  config: GatewayConfig,
  context: ModuleContext,
): GatewayHooks[] {
  const out: GatewayHooks[] = []
  for (const make of ROUTE_MODULES) {
    const hooks = make(route, config, context)
    if (hooks !== undefined) out.push(hooks)
  }
  return out
}
