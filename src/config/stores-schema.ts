/**
 * The schema of `stores:`: how the shared-state stores are reached and tuned
 * (docs/configuration.md, "stores"). A feature names the store it keeps
 * state in (`store: memory | shared | redis`); this section configures them.
 * The output keeps the keys as written, with durations in milliseconds (so a
 * validated configuration validates again unchanged); it is the
 * `StoresOptions` src/store/registry.ts takes.
 */
import { z } from 'zod'
import type { StoresOptions } from '../store/registry.ts'
import { duration } from './unit-schemas.ts'

const redisUrl = z.string().refine(
  (v) => {
    try {
      const u = new URL(v)
      return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== ''
    } catch {
      return false
    }
  },
  { message: 'must be a redis:// or rediss:// URL' },
)

/** A Sentinel's address: `HOST:PORT` or `{ host, port }`. */
const sentinelAddress = z
  .union([z.string(), z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65535) })])
  .transform((v, ctx) => {
    if (typeof v !== 'string') return v
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:]+):(\d{1,5})$/.exec(v)
    const port = Number(m?.[2])
    if (!m || port < 1 || port > 65535) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid sentinel address ${JSON.stringify(v)} (use HOST:PORT)`,
      })
      return z.NEVER
    }
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port }
  })

const redis = z
  .strictObject({
    /** One server. Exactly one of url, cluster and sentinel. */
    url: redisUrl.optional(),
    /** A Redis Cluster, by seed node URLs. */
    cluster: z.strictObject({ nodes: z.array(redisUrl).min(1) }).optional(),
    /** A primary watched by Sentinels. */
    sentinel: z
      .strictObject({
        masterName: z.string().min(1),
        sentinels: z.array(sentinelAddress).min(1),
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .optional(),
    /** Prefixed to every key and channel. */
    keyPrefix: z.string().default('portcullis:'),
    /** An operation without a reply after this fails with STORE_TIMEOUT. */
    timeout: duration.default(250),
    /** A connection attempt is abandoned after this. */
    connectTimeout: duration.default(2000),
    /** Reconnect backoff: first delay, doubled per attempt up to maxDelay. */
    reconnect: z
      .strictObject({ minDelay: duration.default(100), maxDelay: duration.default(5000) })
      .prefault({}),
  })
  .refine((r) => [r.url, r.cluster, r.sentinel].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of url, cluster or sentinel',
  })

const memory = z
  .strictObject({
    /** How often expired keys nobody reads again are dropped. */
    sweepInterval: duration.default(5000),
  })
  .prefault({})

const shared = z
  .strictObject({
    /** A worker's operation without an answer from the supervisor after this fails with STORE_TIMEOUT. */
    timeout: duration.default(1000),
    /** As memory.sweepInterval, in the supervisor that holds the data. */
    sweepInterval: duration.default(5000),
  })
  .prefault({})

/** `stores:`; every key optional. `redis` only when some feature uses the redis store. */
export const storesSchema = z
  .strictObject({ memory, shared, redis: redis.optional() })
  .prefault({}) satisfies z.ZodType<StoresOptions>
