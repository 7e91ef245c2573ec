/**
 * The schema of an upstream's `health:` section (docs/configuration.md,
 * "Upstream health"): active checks (HTTP or TCP probes on a schedule),
 * passive checks (outlier detection on real traffic) and panic mode. Read by
 * src/upstream/health/. Durations come out in milliseconds; status lists keep
 * their written form (numbers and `"200-299"` ranges), so a validated
 * configuration validates again unchanged.
 */
import { z } from 'zod'
import { duration } from './unit-schemas.ts'

/** A status code or an inclusive range written `"200-299"`. */
const statusOrRange = z.union([
  z.number().int().min(100).max(599),
  z.string().refine(
    (s) => {
      const m = /^([1-5]\d\d)-([1-5]\d\d)$/.exec(s)
      return m !== null && Number(m[1]) <= Number(m[2])
    },
    { message: 'must be a status (200) or a range ("200-299")' },
  ),
])

/** `health.active`: one probe per target per interval for the whole instance (all workers). */
const active = z
  .strictObject({
    /** `http`: a request whose status (and optionally body) decides; `tcp`: a connect that succeeds. */
    type: z.enum(['http', 'tcp']).default('http'),
    /** `http`: the request target of the probe. */
    path: z.string().startsWith('/', 'must start with /').default('/'),
    method: z.enum(['GET', 'HEAD', 'OPTIONS']).default('GET'),
    /** `http`: the Host header; default the target's host. */
    host: z.string().optional(),
    /** `http`: statuses that count as healthy. */
    statuses: z.array(statusOrRange).min(1).default(['200-399']),
    /** `http`: a string the body must contain (the first 64 KiB are read). */
    body: z.string().optional(),
    /** Time between two probes of one target. */
    interval: duration.default(5000).refine((ms) => ms >= 10, 'must be at least 10ms'),
    /** A probe not finished after this fails; default 2 s, or half the interval when that is shorter. */
    timeout: duration.optional(),
    /** Each interval is moved by a random amount in ±jitter, so instances do not probe in step; default a tenth of `interval`. */
    jitter: duration.optional(),
    /** Successes in a row that mark an unhealthy target healthy. */
    healthyThreshold: z.number().int().min(1).max(100).default(2),
    /** Failures in a row that mark a healthy target unhealthy. */
    unhealthyThreshold: z.number().int().min(1).max(100).default(3),
  })
  .refine((a) => a.timeout === undefined || (a.timeout > 0 && a.timeout < a.interval), {
    message: 'must be above 0 and shorter than interval',
    path: ['timeout'],
  })
  .transform((a) => ({ ...a, timeout: a.timeout ?? Math.min(2000, Math.floor(a.interval / 2)) }))

/** `health.passive`: outlier detection from the requests the upstream serves. */
const passive = z.strictObject({
  /** Failures in a row (a listed status, or no response: refused, reset, timed out) that eject a target. */
  consecutiveFailures: z.number().int().min(1).max(1000).default(5),
  /** Statuses that count as failures. */
  statuses: z.array(statusOrRange).min(1).default(['500-599']),
  /** The n-th ejection in a row lasts n × this (capped at `maxEjectionTime`). */
  baseEjectionTime: duration.default(30_000),
  maxEjectionTime: duration.default(300_000),
  /** No ejection that would leave more than this percentage of the targets ejected (one is always allowed). */
  maxEjectionPercent: z.number().int().min(0).max(100).default(50),
})

/** An upstream's `health:` section. */
export const healthSchema = z.strictObject({
  active: active.optional(),
  passive: passive.optional(),
  /**
   * The store that coordinates the workers: its lease picks the one worker
   * that probes, its channel shares probe verdicts and ejections. `shared`:
   * the workers of this instance; `redis`: every instance using that Redis.
   */
  store: z.enum(['memory', 'shared', 'redis']).default('shared'),
  /**
   * Panic mode: when fewer than this percentage of the targets are healthy
   * (not down, not ejected), route to all of them instead; 0 turns it off
   * (requests then get 503 NO_HEALTHY_TARGET when none is left).
   */
  panicThreshold: z.number().int().min(0).max(100).default(0),
})

/** The validated `health:` section of an upstream. */
export type HealthConfig = z.output<typeof healthSchema>
export type ActiveHealthConfig = NonNullable<HealthConfig['active']>
export type PassiveHealthConfig = NonNullable<HealthConfig['passive']>

/**
 * checkHealthStores reports upstreams whose health checks use the redis
 * store when `stores.redis` is not configured. It reads a possibly invalid
 * config defensively (it runs even when other parts fail).
 */
export function checkHealthStores(cfg: unknown, ctx: z.RefinementCtx): void {
  if (typeof cfg !== 'object' || cfg === null) return
  const { upstreams, stores } = cfg as { upstreams?: unknown; stores?: unknown }
  if (typeof stores === 'object' && stores !== null && !!(stores as { redis?: unknown }).redis) return
  if (typeof upstreams !== 'object' || upstreams === null) return
  for (const [name, u] of Object.entries(upstreams)) {
    const health = typeof u === 'object' && u !== null ? (u as { health?: unknown }).health : undefined
    if (typeof health === 'object' && health !== null && (health as { store?: unknown }).store === 'redis')
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', name, 'health', 'store'],
        message: 'store: redis needs stores.redis (url, cluster or sentinel)',
      })
  }
}
