/**
 * The schema of an upstream's balancing keys (docs/configuration.md,
 * "Load balancing"): `balance`, `hash`, `peakEwma`, `slowStart` and
 * `resolve` under `upstreams.NAME`. Everything but `balance` is optional,
 * and an upstream that sets none of them balances as before (round-robin).
 * Durations come out in milliseconds, so a validated configuration
 * validates again unchanged.
 */
import { z } from 'zod'
import { duration } from './unit-schemas.ts'

/** The balancers of src/upstream/balancers/. */
export const BALANCERS = ['round-robin', 'least-request', 'consistent-hash', 'random', 'peak-ewma'] as const

const HASH_KEY_RE = /^(?:(?:header|cookie|query):[!#$%&'*+\-.^_`|~0-9A-Za-z]+|path|client\.ip)$/

const hash = z.strictObject({
  /** What a request is placed by: `header:NAME`, `cookie:NAME`, `query:NAME`, `path` or `client.ip`. */
  key: z.string().regex(HASH_KEY_RE, 'use header:NAME, cookie:NAME, query:NAME, path or client.ip'),
  /** c ≥ 1: no target takes more than c × its share of the requests in flight (absent: no bound). */
  boundedLoad: z.number().min(1).max(100).optional(),
})

const peakEwma = z.strictObject({
  /** The time constant of the latency average: an old value has half its weight after decay × ln 2. */
  decay: duration.default(10_000),
})

const resolve = z.strictObject({
  /** Re-resolve host names at least this often. */
  interval: duration.default(30_000),
  /** Re-resolve sooner when the DNS answer's TTL is shorter (never more often than once a second). */
  ttl: z.boolean().default(true),
})

/** The balancing keys, spread into the upstream schema (config/schema.ts). */
export const balanceKeys = {
  /** The balancer (src/upstream/balancers/). */
  balance: z.enum(BALANCERS).default('round-robin'),
  /** consistent-hash: the key and the load bound. */
  hash: hash.optional(),
  /** peak-ewma: the latency average's decay. */
  peakEwma: peakEwma.optional(),
  /** A target that becomes available again ramps its weight up over this window (absent or 0: at once). */
  slowStart: duration.optional(),
  /** Targets named by host name become one target per address, re-resolved on this schedule. */
  resolve: resolve.optional(),
}

export type HashConfig = z.output<typeof hash>
export type ResolveConfig = z.output<typeof resolve>

/**
 * checkBalances, for every upstream: `hash` goes with consistent-hash (which
 * needs it), `peakEwma` with peak-ewma, and slowStart not with
 * consistent-hash (a ring's points are placed by weight once per target set;
 * ramping weights would rebuild it constantly). Runs on the whole file even
 * when other parts are invalid, so it tolerates malformed upstreams.
 */
export function checkBalances(cfg: unknown, ctx: z.RefinementCtx): void {
  const upstreams = (cfg as { upstreams?: unknown } | null)?.upstreams
  if (typeof upstreams !== 'object' || upstreams === null) return
  for (const [name, u] of Object.entries(upstreams)) {
    if (typeof u !== 'object' || u === null) continue
    const { balance, hash, peakEwma, slowStart } = u as Record<string, unknown>
    const at = (key: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: ['upstreams', name, key], message })
    if (balance === 'consistent-hash' && hash === undefined)
      at('hash', 'balance: consistent-hash needs hash.key')
    if (balance !== 'consistent-hash' && hash !== undefined)
      at('hash', 'applies only to balance: consistent-hash')
    if (balance !== 'peak-ewma' && peakEwma !== undefined)
      at('peakEwma', 'applies only to balance: peak-ewma')
    if (balance === 'consistent-hash' && typeof slowStart === 'number' && slowStart > 0)
      at('slowStart', 'does not apply to balance: consistent-hash')
  }
}
