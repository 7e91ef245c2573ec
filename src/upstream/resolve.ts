/**
 * Targets named by host name, re-resolved on a schedule (`resolve:` in an
 * upstream's config). Each name becomes one target per address it resolves
 * to; the URL's host stays the name for Host, SNI and certificate checks
 * (Target's `address`). When the answer changes, targets for addresses that
 * remain are kept, with their pools and state; new addresses get new
 * targets; targets for addresses that went away are dropped and their pools
 * closed after the requests in flight (ConnectionPool.close).
 *
 * Until a name's first answer arrives it is one target connecting by name,
 * as without `resolve`. A failed or empty answer keeps the last known
 * addresses: a DNS outage must not empty an upstream.
 *
 * With `ttl: true` the next round comes when the shortest TTL expires
 * (resolve4/resolve6 report TTLs), at most `interval` later and never
 * sooner than a second. Names only the system resolver knows (/etc/hosts,
 * e.g. localhost) have no TTL and follow `interval`.
 */
import dns from 'node:dns'
import { isIP } from 'node:net'
import type { ResolveConfig } from '../config/balance-schema.ts'

/** One address of an answer; `ttl` in seconds when the resolver gave one. */
export interface ResolvedAddress {
  readonly address: string
  readonly ttl?: number | undefined
}

/** Resolves a host name to its addresses (tests inject their own). */
export type HostResolver = (host: string) => Promise<readonly ResolvedAddress[]>

const MIN_DELAY_MS = 1000

/**
 * systemResolver asks DNS for A and AAAA records with their TTLs; when DNS
 * has neither, the system resolver (getaddrinfo: /etc/hosts, mDNS …).
 */
export const systemResolver: HostResolver = async function systemResolver(host) {
  const resolver = new dns.promises.Resolver({ timeout: 2000, tries: 2 })
  const [v4, v6] = await Promise.allSettled([
    resolver.resolve4(host, { ttl: true }),
    resolver.resolve6(host, { ttl: true }),
  ])
  const found: ResolvedAddress[] = []
  if (v4.status === 'fulfilled') found.push(...v4.value)
  if (v6.status === 'fulfilled') found.push(...v6.value)
  if (found.length > 0) return found
  const all = await dns.promises.lookup(host, { all: true })
  return all.map((a) => ({ address: a.address }))
}

/** isHostName tells whether a target URL names a host (to resolve) rather than an IP address. */
export function isHostName(url: string): boolean {
  const h = new URL(url).hostname
  return isIP(h.startsWith('[') ? h.slice(1, -1) : h) === 0
}

/**
 * ResolvedNames keeps the addresses of a set of host names fresh and calls
 * `changed` after a round in which any name's addresses changed.
 */
export class ResolvedNames {
  /** Each name's current addresses, sorted; absent until its first non-empty answer. */
  readonly addresses = new Map<string, readonly string[]>()
  /** The last resolution error, for stats; undefined after a round without one. */
  lastError: Error | undefined = undefined
  private readonly names: readonly string[]
  private readonly config: ResolveConfig
  private readonly resolve: HostResolver
  private readonly changed: () => void
  private timer: NodeJS.Timeout | undefined = undefined
  private closed = false

  constructor(names: readonly string[], config: ResolveConfig, resolve: HostResolver, changed: () => void) {
    this.names = [...new Set(names)]
    this.config = config
    this.resolve = resolve
    this.changed = changed
  }

  /** start runs the first round now and schedules the next ones. */
  start(): void {
    void this.round()
  }

  /** round resolves every name once; `changed` runs when an address set changed. */
  async round(): Promise<void> {
    let minTtl = Infinity
    let changed = false
    this.lastError = undefined
    for (const name of this.names) {
      let answer: readonly ResolvedAddress[]
      try {
        answer = await this.resolve(name)
      } catch (err) {
        this.lastError = err as Error
        continue
      }
      if (this.closed) return
      if (answer.length === 0) continue
      for (const a of answer) if (a.ttl !== undefined && a.ttl < minTtl) minTtl = a.ttl
      const next = [...new Set(answer.map((a) => a.address))].sort()
      const prev = this.addresses.get(name)
      if (prev !== undefined && prev.length === next.length && prev.every((a, i) => a === next[i])) continue
      this.addresses.set(name, next)
      changed = true
    }
    if (this.closed) return
    if (changed) this.changed()
    const ttlMs = this.config.ttl && minTtl !== Infinity ? minTtl * 1000 : Infinity
    const delay = Math.max(MIN_DELAY_MS, Math.min(this.config.interval, ttlMs))
    clearTimeout(this.timer) // a round run by hand (tests) replaces the scheduled one
    this.timer = setTimeout(() => void this.round(), delay)
    this.timer.unref()
  }

  /** close stops the schedule. */
  close(): void {
    this.closed = true
    clearTimeout(this.timer)
  }
}
