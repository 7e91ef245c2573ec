/**
 * The schema of rate limits: a route's `rateLimit` (one limit, the name of
 * a top-level one, or a list of both) and the top-level `rateLimits` map.
 * Keys are documented in docs/configuration.md, section `rateLimits`.
 */
import { z } from 'zod'
import { duration } from '../unit-schemas.ts'

const RATE_RE = /^(\d+)\s*\/\s*(\d*)\s*(ms|s|m|h|d)$/
const PERIOD_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A parsed `rate`: `count` requests per `periodMs`. */
export interface Rate {
  count: number
  periodMs: number
}

/** parseRate reads `100/s`, `5000/d`, `10/30s`; undefined when malformed. */
export function parseRate(text: string): Rate | undefined {
  const m = RATE_RE.exec(text.trim())
  if (!m) return undefined
  const count = Number(m[1])
  const periodMs = Number(m[2] || '1') * PERIOD_MS[m[3]!]!
  if (count < 1 || periodMs < 1) return undefined
  return { count, periodMs }
}

/** Limit keys: what one counter is kept per. */
const KEY_RE = /^(client\.ip|route|consumer|header:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|jwt\.[A-Za-z0-9_.:-]+)$/

const keyPart = z.string().regex(KEY_RE, 'use client.ip, route, consumer, header:NAME or jwt.CLAIM')

/** One limit; `name` is what the RateLimit headers and the store key call it. */
export const limitSchema = z.strictObject({
  /** `N/s`, `N/m`, `N/h`, `N/d` or `N/<k><unit>` (`10/30s`). */
  rate: z
    // The parsed form is accepted too, so a validated configuration validates again unchanged.
    .union([z.string(), z.object({ text: z.string() }).transform((o) => o.text)])
    .transform((v, ctx) => {
      const r = parseRate(v)
      if (r === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `invalid rate ${JSON.stringify(v)} (use e.g. 100/s, 5000/d)`,
        })
        return z.NEVER
      }
      return { ...r, text: v }
    }),
  /** How many may pass at once (GCRA); default the rate's N. */
  burst: z.number().int().min(1).optional(),
  /** What the limit counts per; a list combines parts. Default client.ip. */
  key: z
    .union([keyPart, z.array(keyPart).min(1)])
    .transform((k) => (Array.isArray(k) ? k : [k]))
    .default(['client.ip']),
  /** memory (this event loop), shared (every worker, exact) or redis (every instance). */
  store: z.enum(['memory', 'shared', 'redis']).default('shared'),
  /** gcra (smooth rate with bursts) or sliding-window (a weighted counter of two windows). */
  algorithm: z.enum(['gcra', 'sliding-window']).default('gcra'),
  /**
   * With workers and `store: shared`: how long a worker may spend decisions
   * it took from the store ahead, in one message (modules/rate-limit/leases.ts);
   * 0 asks the store for every request. GCRA caps it at 1 % of the burst's time.
   */
  lease: duration.default(10),
  /** When the store fails or times out: open lets the request through, closed answers 503. */
  failMode: z.enum(['open', 'closed']).default('open'),
  /**
   * Also send RateLimit-Policy and RateLimit on allowed proxied responses
   * (they are always on a 429). Off by default: any response hook makes the
   * proxy hold and rewrite the response head, which bench/policies.sh
   * measured at ~10-25 us per request.
   */
  headers: z.boolean().default(false),
})

export type LimitConfig = z.output<typeof limitSchema>

const limitName = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'limit names use A-Z a-z 0-9 _ . -')

/** A limit or a name; parsed by its type so a bad limit reports its own key, not "Invalid input". */
const limitOrRef = z.unknown().transform((v, ctx): string | LimitConfig => {
  const r = typeof v === 'string' ? limitName.safeParse(v) : limitSchema.safeParse(v)
  if (r.success) return r.data
  for (const issue of r.error.issues)
    ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path as (string | number)[] })
  return z.NEVER
})

/** A route's `rateLimit`: a limit, a top-level limit's name, or a list of them. */
export const routeRateLimitSchema = z.unknown().transform((v, ctx): (string | LimitConfig)[] => {
  const r = Array.isArray(v) ? z.array(limitOrRef).min(1).safeParse(v) : limitOrRef.safeParse(v)
  if (r.success) return Array.isArray(r.data) ? r.data : [r.data]
  for (const issue of r.error.issues)
    ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path as (string | number)[] })
  return z.NEVER
})

/** The top-level `rateLimits`: limits by name, shared by every route naming them. */
export const rateLimitsSchema = z.record(limitName, limitSchema).default({})

/**
 * checkRateLimitReferences reports routes naming a limit `rateLimits` does
 * not define, and redis limits (or forward-auth caches, concurrency limits) without `stores.redis`. It reads a possibly
 * invalid config defensively (it runs even when other parts fail).
 */
export function checkRateLimitReferences(cfg: unknown, ctx: z.RefinementCtx): void {
  if (typeof cfg !== 'object' || cfg === null) return
  const { routes, rateLimits, stores } = cfg as { routes?: unknown; rateLimits?: unknown; stores?: unknown }
  const named = typeof rateLimits === 'object' && rateLimits !== null ? rateLimits : {}
  const hasRedis = typeof stores === 'object' && stores !== null && 'redis' in stores && !!stores.redis
  for (const [name, l] of Object.entries(named)) {
    if (isRedis(l) && !hasRedis) ctx.addIssue(noRedis(['rateLimits', name, 'store']))
  }
  const sets = (cfg as { policies?: unknown }).policies
  if (typeof sets === 'object' && sets !== null)
    for (const [name, set] of Object.entries(sets)) checkRefs(set, ['policies', name], named, hasRedis, ctx)
  if (!Array.isArray(routes)) return
  routes.forEach((r: unknown, i) => {
    const forward = (r as { auth?: { forward?: unknown } } | null)?.auth?.forward
    if (isRedis(forward) && !hasRedis) ctx.addIssue(noRedis(['routes', i, 'auth', 'forward', 'store']))
    checkRefs(r, ['routes', i], named, hasRedis, ctx)
  })
}

/** checkRefs checks the `rateLimit` (and a redis `concurrency`) of a route or a policy set at `at`. */
function checkRefs(
  holder: unknown,
  at: (string | number)[],
  named: object,
  hasRedis: boolean,
  ctx: z.RefinementCtx,
): void {
  const list =
    typeof holder === 'object' && holder !== null ? (holder as { rateLimit?: unknown }).rateLimit : undefined
  const items = Array.isArray(list) ? list : list === undefined ? [] : [list]
  items.forEach((l: unknown, j) => {
    const path = [...at, 'rateLimit', ...(items.length > 1 ? [j] : [])]
    if (typeof l === 'string' && !Object.hasOwn(named, l))
      ctx.addIssue({ code: 'custom', path, message: `unknown rate limit '${l}' (not in rateLimits)` })
    else if (isRedis(l) && !hasRedis) ctx.addIssue(noRedis([...path, 'store']))
  })
  // A concurrency limit may count on redis too (modules/concurrency/shared-slots.ts).
  const concurrency = (holder as { concurrency?: unknown } | null)?.concurrency
  if (isRedis(concurrency) && !hasRedis) ctx.addIssue(noRedis([...at, 'concurrency', 'store']))
}

function isRedis(l: unknown): boolean {
  return typeof l === 'object' && l !== null && (l as { store?: unknown }).store === 'redis'
}

function noRedis(path: (string | number)[]): z.core.$ZodRawIssue {
  return {
    code: 'custom',
    path,
    message: 'store: redis needs stores.redis (url, cluster or sentinel)',
  } as never
}
