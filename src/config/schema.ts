/**
 * The configuration schema. One zod schema is the single source of truth for
 * validation, defaults, unit conversion and the TypeScript types the rest of
 * the gateway reads (`GatewayConfig`). Keys are documented in
 * docs/configuration.md; keep the two in step.
 */
import { isIP } from 'node:net'
import { z } from 'zod'
import { compressionSchema } from './modules/compress.ts'
import { checkPolicySetReferences, policySetsSchema } from './modules/policy-sets.ts'
import { checkRateLimitReferences, rateLimitsSchema } from './modules/rate-limit.ts'
import { adminSchema, checkAdminToken } from './admin-schema.ts'
import { balanceKeys, checkBalances } from './balance-schema.ts'
import { forwardSchema } from './forward-schema.ts'
import { checkHealthStores, healthSchema } from './health-schema.ts'
import { upstreamResilienceKeys } from './resilience-schema.ts'
import { isIpOrCidr } from './ip.ts'
import { accessLogSchema, logSchema } from './log-schema.ts'
import { routeSchema, upgradeProtocols } from './route-schema.ts'
import { storesSchema } from './stores-schema.ts'
import { supervisorSchema, workersSchema } from './workers-schema.ts'
import { tracingSchema } from './tracing-schema.ts'
import { duration, size } from './unit-schemas.ts'

/**
 * `HOST:PORT`, `[v6]:PORT`, a bare `PORT` (bound to 127.0.0.1, the safe
 * default), or `{ host, port }` — the parsed form, accepted so that an
 * already validated config validates again unchanged (parse is idempotent).
 */
const address = z
  .union([z.string(), z.number(), z.strictObject({ host: z.string(), port: z.number() })])
  .transform((v, ctx) => {
    const parsed = parseAddress(addressText(v))
    if (!parsed) {
      const port = portOutOfRange(addressText(v))
      const message =
        port === undefined
          ? `invalid address ${JSON.stringify(v)} (use HOST:PORT)`
          : `port ${port} is out of range (0-65535)`
      ctx.addIssue({ code: 'custom', message })
      return z.NEVER
    }
    return parsed
  })

function addressText(v: string | number | Address): string {
  if (typeof v !== 'object') return String(v)
  return v.host.includes(':') ? `[${v.host}]:${v.port}` : `${v.host}:${v.port}`
}

export interface Address {
  host: string
  port: number
}

/** parseAddress reads `HOST:PORT`, `[v6]:PORT` or `PORT`; undefined when malformed. */
export function parseAddress(text: string): Address | undefined {
  let host = '127.0.0.1'
  let portText = text
  const bracket = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text)
  if (bracket) {
    host = bracket[1]!
    portText = bracket[2]!
  } else if (text.includes(':')) {
    const i = text.lastIndexOf(':')
    host = text.slice(0, i)
    portText = text.slice(i + 1)
    if (host === '' || host.includes(':')) return undefined
  }
  if (!/^\d+$/.test(portText)) return undefined
  const port = Number(portText)
  if (port > 65535) return undefined
  if (host !== 'localhost' && isIP(host) === 0 && !/^[a-zA-Z0-9.-]+$/.test(host)) return undefined
  return { host, port }
}

/** portOutOfRange: the port of `HOST:PORT` or a URL's authority when it is over 65535. */
function portOutOfRange(text: string): string | undefined {
  const port =
    /^(?:[a-z][a-z0-9+.-]*:\/\/)?[^/?#]*:(\d+)(?:[/?#]|$)/i.exec(text)?.[1] ?? /^\d+$/.exec(text)?.[0]
  return port !== undefined && Number(port) > 65535 ? port : undefined
}

const httpUrl = z.string().superRefine((v, ctx) => {
  let ok = false
  try {
    const u = new URL(v)
    ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== ''
  } catch {}
  if (ok) return
  const port = portOutOfRange(v)
  const message =
    port === undefined ? 'must be an http:// or https:// URL' : `port ${port} is out of range (1-65535)`
  ctx.addIssue({ code: 'custom', message })
})

const METHOD_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

const target = z.strictObject({
  /** The target's base URL; its path, when not `/`, is prefixed to forwarded paths. */
  url: httpUrl,
  /** Relative share of traffic under weighted balancing. */
  weight: z.number().int().min(1).max(1000).default(1),
})

const upstreamTimeouts = z
  .strictObject({
    /** TCP (and TLS) connection establishment. */
    connect: duration.default(5000),
    /** From the last request byte written to the response head. */
    response: duration.default(60_000),
    /** Longest silence while either body streams. */
    idle: duration.default(60_000),
  })
  .prefault({})

const pool = z
  .strictObject({
    /** Connections open to one target at most (busy + idle); more requests wait. */
    maxConnections: z.number().int().min(1).default(1024),
    /** Idle keep-alive connections kept per target. */
    maxIdle: z.number().int().min(0).default(256),
    /** An idle connection is closed after this; shorter than common upstream keep-alive (5 s in Node). */
    idleTimeout: duration.default(4000),
    /** How long a request may wait for a free connection when maxConnections is reached. */
    queueTimeout: duration.default(5000),
  })
  .prefault({})

/** How https:// targets are verified (as nginx's proxy_ssl_trusted_certificate / proxy_ssl_verify). */
const upstreamTls = z
  .strictObject({
    /** A PEM file of CA certificates trusted for the targets (added to, not replacing, the system CAs). */
    ca: z.string().optional(),
    /** SNI and the name the certificate must carry; default: the target's host name (none for IPs). */
    servername: z.string().optional(),
    /** Verify the target's certificate. Turning it off is for development only. */
    verify: z.boolean().default(true),
  })
  .prefault({})

const upstream = z.strictObject({
  targets: z.array(target).min(1, 'needs at least one target'),
  /** Balancer, slow start, DNS re-resolution (src/config/balance-schema.ts). */
  ...balanceKeys,
  pool,
  timeouts: upstreamTimeouts,
  tls: upstreamTls,
  /** Retries, circuit breakers and resource limits (src/config/resilience-schema.ts). */
  ...upstreamResilienceKeys,
  /** The admin listener's /readyz fails while this upstream has no available target (src/server/admin). */
  required: z.boolean().optional(),
  /** Active and passive health checks, panic mode (health-schema.ts). */
  health: healthSchema.optional(),
})

const tls = z.strictObject({ cert: z.string(), key: z.string() })

const listen = z.strictObject({ address, tls: tls.optional() })

const limits = z
  .strictObject({
    /** Request line plus headers; larger heads get 431. */
    maxHeadSize: size.default(16 * 1024),
    /** Header fields per request; more get 431. */
    maxHeaders: z.number().int().min(1).max(10_000).default(100),
    /** Request target length; longer get 414. */
    maxTargetLength: size.default(8 * 1024),
    /**
     * Request body size; larger get 413. 0 (the default) means no limit:
     * bodies stream through in bounded memory, so their size costs the
     * gateway nothing, and only the application knows how large an upload
     * it takes (as Caddy, Envoy, HAProxy; nginx's 1 MB default is a
     * well-known surprise). Slow or stalled uploads are bounded by
     * timeouts.body, limits.minUploadRate and limits.maxUploadsPerClient.
     */
    maxBodySize: size.default(0),
    /** Requests served on one client connection before it is closed (as nginx keepalive_requests). */
    maxRequestsPerConnection: z.number().int().min(1).default(1000),
    /** Body bytes read before an upstream connection is taken (slow uploads cannot hold the pool); 0 streams at once. */
    bodyBuffer: size.default(64 * 1024),
    /** Bytes per second a request body must average after timeouts.uploadGrace, else 408; 0 for no minimum. */
    minUploadRate: size.default(1024),
    /** Concurrent requests with a body still arriving, per client address (per worker), else 429; 0 for no limit. */
    maxUploadsPerClient: z.number().int().min(0).default(128),
    /** Largest WebSocket message read for onWebSocketMessage hooks (all fragments; inflated when compressed), else closed with 1009. */
    maxWebSocketMessage: size
      .refine((n) => n > 0, 'must be more than 0 (a message over it closes the connection)')
      .default(1024 * 1024),
  })
  .prefault({})

const timeouts = z
  .strictObject({
    /** The whole request head must arrive within this (slowloris guard). */
    head: duration.default(10_000),
    /** An idle client keep-alive connection is closed after this. */
    keepAlive: duration.default(60_000),
    /** Longest silence while a request body arrives. */
    body: duration.default(60_000),
    /** From the request head, how long before limits.minUploadRate applies. */
    uploadGrace: duration.default(10_000),
    /** Longest a response write may stall on a slow client. */
    send: duration.default(60_000),
    /** On shutdown, in-flight requests get this long to finish. */
    drain: duration.default(10_000),
  })
  .prefault({})

const proxy = z
  .strictObject({
    /** Send the client's Host upstream (true) or the target's (false). */
    preserveHost: z.boolean().default(true),
    /** Set X-Forwarded-For, -Proto and -Host. */
    forwardedHeaders: z.boolean().default(true),
    /** Add a Via header (RFC 9110 §7.6.3) upstream and downstream. */
    via: z.boolean().default(true),
    /** Peers (IPs or CIDRs) whose X-Forwarded-* fields are kept and appended to; others' are replaced. */
    trustedProxies: z
      .array(z.string().refine(isIpOrCidr, { message: 'must be an IP address or CIDR (10.0.0.0/8)' }))
      .default([]),
    /** Header that carries the request id. */
    requestIdHeader: z
      .string()
      .regex(METHOD_RE)
      .transform((s) => s.toLowerCase())
      .default('x-request-id'),
    /** Also return the request id to the client on proxied responses. */
    echoRequestId: z.boolean().default(false),
    /** Forward request fields whose names contain `_` (dropped by default, as nginx's underscores_in_headers off). */
    underscoresInHeaders: z.boolean().default(false),
    /** Protocols a client may upgrade to through the proxy (RFC 9110 §7.8); any other Upgrade is removed. */
    upgrades: upgradeProtocols.default(['websocket']),
  })
  .prefault({})

/** How request paths are normalised before hooks and routing (src/routing/normalize-path.ts). */
const paths = z
  .strictObject({
    /** Merge repeated slashes (`//admin` is `/admin`), as nginx's merge_slashes. */
    mergeSlashes: z.boolean().default(true),
    /** `%2F`, `%5C` and `\` in a path: `reject` with 400, or `decode` to `/` and normalise. */
    encodedSlashes: z.enum(['reject', 'decode']).default('reject'),
  })
  .prefault({})

/** Hot reload (SIGHUP always reloads); read by the command line, not the gateway. */
const reload = z
  .strictObject({
    /** Reload when the configuration file or a file it includes changes. */
    watch: z.boolean().default(false),
    /** Wait this long after the last change before reloading (editors save in several writes). */
    debounce: duration.default(250),
  })
  .prefault({})

export const configSchema = z
  .strictObject({
    /** Event loops (worker processes) and their supervisor (src/server/workers/). */
    workers: workersSchema,
    supervisor: supervisorSchema,
    // Empty only beside a forward proxy (checkListeners).
    listen: z.array(listen).default([{ address: { host: '127.0.0.1', port: 8080 } }]),
    upstreams: z
      .record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'upstream names use A-Z a-z 0-9 _ . -'), upstream)
      .default({}),
    routes: z.array(routeSchema).default([]),
    limits,
    timeouts,
    proxy,
    paths,
    accessLog: accessLogSchema,
    /** The gateway's own error log (src/observe/error-log.ts). */
    log: logSchema,
    reload,
    /** Response compression (src/modules/compress); a route's `compress` overrides it. */
    compression: compressionSchema,
    /** Shared-state stores (src/store): memory, shared across workers, redis across instances. */
    stores: storesSchema,
    /** Rate limits by name, shared by every route naming them (src/modules/rate-limit). */
    rateLimits: rateLimitsSchema,
    /** Route policies by set name; `default` applies to routes naming none (src/modules/policy-sets.ts). */
    policies: policySetsSchema,
    /** The forward proxy (src/forward): its listener, destination rules, TLS interception. */
    forward: forwardSchema.extend({ address }).optional(),
    /** The admin listener: JSON API, /metrics, health (src/server/admin, src/observe/admin). */
    admin: adminSchema.extend({ address: address.default({ host: '127.0.0.1', port: 9901 }) }).optional(),
    /** Spans to an OpenTelemetry collector over OTLP/HTTP (src/observe/tracing); absent, none are made. */
    tracing: tracingSchema.optional(),
  })
  .superRefine(checkAdminToken, { when: () => true })
  .superRefine(checkListeners, { when: () => true })
  .superRefine(checkBalances, { when: () => true })
  .superRefine(checkUpstreamReferences, {
    // Run even when other parts of the file are invalid, so `check` reports
    // every problem at once; the check itself tolerates malformed parts.
    when: () => true,
  })
  .superRefine(checkRateLimitReferences, { when: () => true })
  .superRefine(checkHealthStores, { when: () => true })
  .superRefine(checkPolicySetReferences, { when: () => true })

/** checkListeners: a gateway listens somewhere, on `listen` or as a forward proxy. */
function checkListeners(cfg: unknown, ctx: z.RefinementCtx): void {
  if (typeof cfg !== 'object' || cfg === null) return
  const { listen, forward } = cfg as { listen?: unknown; forward?: unknown }
  if (Array.isArray(listen) && listen.length === 0 && forward === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['listen'],
      message: 'needs at least 1 entry (or a forward: section)',
    })
}

/**
 * checkUpstreamReferences reports routes naming an upstream that is not
 * defined. It may see a partly invalid config (see `when` above), so it reads
 * defensively and stays silent when `upstreams` itself is malformed.
 */
function checkUpstreamReferences(cfg: unknown, ctx: z.RefinementCtx): void {
  if (typeof cfg !== 'object' || cfg === null) return
  const { upstreams, routes } = cfg as { upstreams?: unknown; routes?: unknown }
  if (typeof upstreams !== 'object' || upstreams === null || Array.isArray(upstreams)) return
  if (!Array.isArray(routes)) return
  const names = Object.keys(upstreams)
  routes.forEach((r: unknown, i) => {
    const ref = typeof r === 'object' && r !== null ? (r as { upstream?: unknown }).upstream : undefined
    if (typeof ref === 'string' && !Object.hasOwn(upstreams, ref)) {
      const hint = nearest(ref, names)
      ctx.addIssue({
        code: 'custom',
        path: ['routes', i, 'upstream'],
        message: `unknown upstream '${ref}'${hint ? ` — did you mean '${hint}'?` : ''}`,
      })
    }
  })
}

/** The validated configuration with defaults applied and units converted. */
export type GatewayConfig = z.output<typeof configSchema>
/** What a user may write (before defaults). */
export type GatewayConfigInput = z.input<typeof configSchema>
export type UpstreamConfig = GatewayConfig['upstreams'][string]
export type RouteConfig = GatewayConfig['routes'][number]
export type { HeaderChangesConfig, ValueMatch } from './route-schema.ts'
export type ListenConfig = GatewayConfig['listen'][number]
export type LimitsConfig = GatewayConfig['limits']
export type TimeoutsConfig = GatewayConfig['timeouts']
export type ProxyConfig = GatewayConfig['proxy']
export type ForwardConfig = NonNullable<GatewayConfig['forward']>

export { isIpOrCidr }

/** nearest returns the candidate within edit distance 2 of `word`, if any. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const c of candidates) {
    const d = editDistance(word, c)
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return best
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length]!
}
