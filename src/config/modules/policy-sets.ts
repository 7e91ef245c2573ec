/**
 * The schema of policy sets (`policies:`): route policies listed once under a
 * top-level name and named by routes; modules/policy-sets.ts resolves them.
 */
import { z } from 'zod'
import { accessSchema } from './access.ts'
import { authSchema } from './auth.ts'
import { concurrencySchema } from './concurrency.ts'
import { corsSchema } from './cors.ts'
import { routeRateLimitSchema } from './rate-limit.ts'

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
