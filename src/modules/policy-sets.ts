/**
 * Policy sets: route policies listed once under a top-level name
 * (`policies:`) and named by routes (`policies: [NAME …]`); a set named
 * `default` applies to every route that names none (`policies: []` opts a
 * route out). A route's own key wins over its sets' (whole keys: a route's
 * `auth` replaces a set's `auth`); among sets, the first listed wins.
 * Resolved when routes are compiled, so they cost nothing per request.
 */
import { z } from 'zod'
import type { GatewayConfig, RouteConfig } from '../config/schema.ts'
import { accessSchema } from './access/schema.ts'
import { authSchema } from './auth-schema.ts'
import { concurrencySchema } from './concurrency/schema.ts'
import { corsSchema } from './cors/schema.ts'
import { routeRateLimitSchema } from './rate-limit/schema.ts'

/** The policy keys a set may hold (the route keys of the same names). */
export const POLICY_KEYS = ['access', 'cors', 'auth', 'rateLimit', 'concurrency'] as const

export type PolicyKey = (typeof POLICY_KEYS)[number]

const setName = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'policy set names use A-Z a-z 0-9 _ . -')

/** One set: any of the route policy keys. */
export const policySetSchema = z.strictObject({
  access: accessSchema.optional(),
  cors: corsSchema.optional(),
  auth: authSchema.optional(),
  rateLimit: routeRateLimitSchema.optional(),
  concurrency: concurrencySchema.optional(),
})

/** The top-level `policies`: sets by name. */
export const policySetsSchema = z.record(setName, policySetSchema).default({})

/** A route's `policies`: set names, in order of precedence. */
export const routePolicySetsSchema = z
  .union([setName, z.array(setName)])
  .transform((v) => (Array.isArray(v) ? v : [v]))

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

/** checkPolicySetReferences reports routes naming a set `policies` does not define. */
export function checkPolicySetReferences(cfg: unknown, ctx: z.RefinementCtx): void {
  if (typeof cfg !== 'object' || cfg === null) return
  const { routes, policies } = cfg as { routes?: unknown; policies?: unknown }
  const sets = typeof policies === 'object' && policies !== null ? policies : {}
  if (!Array.isArray(routes)) return
  routes.forEach((r: unknown, i) => {
    const names = (r as { policies?: unknown } | null)?.policies
    for (const [j, n] of (Array.isArray(names) ? names : names === undefined ? [] : [names]).entries()) {
      if (typeof n === 'string' && !Object.hasOwn(sets, n))
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'policies', ...(Array.isArray(names) ? [j] : [])],
          message: `unknown policy set '${n}' (not in policies)`,
        })
    }
  })
}
