/**
 * Per-destination upstreams for forward-proxied requests: one Upstream (one
 * connection pool) per scheme, host and port, connecting to the address the
 * host resolved to (checked by the caller). Bounded, least recently used
 * out; an entry is resolved again after RESOLVE_TTL_MS, and replaced when the
 * address changed. An evicted upstream closes its idle connections at once
 * and its busy ones when their exchange ends.
 */
import type net from 'node:net'
import type { UpstreamConfig } from '../config/schema.ts'
import type { Deadlines } from '../core/deadlines.ts'
import type { Destination } from '../core/session.ts'
import { Upstream } from '../upstream/upstream.ts'
import { authorityOf } from './authority.ts'

/** How long a resolved address is used before the name is looked up again. */
const RESOLVE_TTL_MS = 30_000

interface Entry {
  upstream: Upstream
  address: string
  until: number
}

/** What every per-destination upstream shares (timeouts, pool sizes, TLS trust). */
export type DestinationTemplate = Omit<UpstreamConfig, 'targets'>

export class DestinationPools {
  private readonly entries = new Map<string, Entry>()
  private readonly max: number
  private readonly deadlines: Deadlines

  constructor(max: number, deadlines: Deadlines) {
    this.max = max
    this.deadlines = deadlines
  }

  /** Destinations with a pool. */
  get size(): number {
    return this.entries.size
  }

  /** fresh returns the upstream for `key` while its resolution is fresh; the caller resolves otherwise. */
  fresh(key: string): Upstream | undefined {
    const e = this.entries.get(key)
    if (e === undefined) return undefined
    if (performance.now() > e.until) return undefined
    // Least recently used goes first: move to the end.
    this.entries.delete(key)
    this.entries.set(key, e)
    return e.upstream
  }

  /** freshAddress is the address `key`'s pool connects to while its resolution is fresh. */
  freshAddress(key: string): string | undefined {
    const e = this.entries.get(key)
    return e !== undefined && performance.now() <= e.until ? e.address : undefined
  }

  /**
   * upstreamFor returns the upstream for `dest` at `address`, creating it (and
   * evicting the least recently used) when none exists for that address.
   * `template.tls.servername` may name the SNI (intercepted TLS). With
   * `openVia` (intercepted TLS through a chained proxy) each connection's
   * TLS runs on the socket it opens, `address` only names the way (the
   * chained proxy) and the host name stays the name to verify.
   */
  upstreamFor(
    key: string,
    dest: Destination,
    address: string,
    template: DestinationTemplate,
    openVia?: () => Promise<net.Socket>,
  ): Upstream {
    const e = this.entries.get(key)
    const until = performance.now() + RESOLVE_TTL_MS
    if (e !== undefined && e.address === address) {
      e.until = until
      return e.upstream
    }
    e?.upstream.close()
    this.entries.delete(key)
    const url = `${dest.scheme}://${authorityOf(dest)}`
    const config: UpstreamConfig = { ...template, targets: [{ url, weight: 1 }] }
    const upstream = new Upstream(
      authorityOf(dest),
      config,
      this.deadlines,
      openVia === undefined ? address : undefined,
    )
    if (openVia !== undefined) for (const t of upstream.targets) t.pool.endpoint.openVia = openVia
    this.entries.set(key, { upstream, address, until })
    if (this.entries.size > this.max) {
      const [oldest, old] = this.entries.entries().next().value!
      this.entries.delete(oldest)
      old.upstream.close()
    }
    return upstream
  }

  /** close stops every pool. */
  close(): void {
    for (const e of this.entries.values()) e.upstream.close()
    this.entries.clear()
  }
}
