/**
 * The `forward:` section: a forward proxy listener beside the reverse
 * listeners (src/forward). Destinations are refused by safe defaults
 * (loopback, private and link-local addresses, CONNECT ports other than 443)
 * unless an `allow` entry names them; `deny` refuses, first.
 */
import { z } from 'zod'
import { HASH_FORMAT_MESSAGE, parseHash } from './password-hash.ts'
import { isIpOrCidr } from './ip.ts'
import { routeSchema } from './route-schema.ts'
import { duration, size } from './unit-schemas.ts'

const HOST_PATTERN_RE = /^(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$|^\*$/

/** isDestinationPattern checks `HOST[:PORT]`, `*.domain[:PORT]`, an IP, `[v6]:PORT` or a CIDR. */
export function isDestinationPattern(text: string): boolean {
  const { host, port } = splitPattern(text)
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) return false
  return isIpOrCidr(host) || HOST_PATTERN_RE.test(host)
}

/** splitPattern separates an optional `:PORT` from a destination pattern (IPv6 in brackets). */
export function splitPattern(text: string): { host: string; port: string | undefined } {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (bracket) return { host: bracket[1]!, port: bracket[2] }
  const colons = text.split(':').length - 1
  if (colons === 1) {
    const i = text.indexOf(':')
    return { host: text.slice(0, i), port: text.slice(i + 1) }
  }
  return { host: text, port: undefined }
}

const destination = z.string().refine(isDestinationPattern, {
  message: 'must be HOST, *.DOMAIN, an IP or CIDR, optionally with :PORT',
})

const chain = z.strictObject({
  /** Destinations (host patterns, optionally with :PORT) sent through this proxy. */
  match: z.array(destination).min(1),
  /** The upstream HTTP proxy, `http://[user:password@]host:port`. */
  proxy: z.string().refine(
    (v) => {
      try {
        const u = new URL(v)
        return u.protocol === 'http:' && u.hostname !== ''
      } catch {
        return false
      }
    },
    { message: 'must be an http:// proxy URL' },
  ),
})

const mitm = z.strictObject({
  /** The CA directory made by `portcullis ca init` (ca.pem, ca-key.pem). */
  caDir: z.string().default('./ca'),
  /** Hosts whose TLS is intercepted (patterns as in `allow`); the others are tunnelled untouched. */
  hosts: z.array(destination).default(['*']),
  /** Hosts never intercepted, even when `hosts` matches (certificate-pinned clients). */
  passthrough: z.array(destination).default([]),
  /**
   * A PEM file of CA certificates trusted for intercepted destinations, added
   * to the system CAs (an origin with a private CA). Verification is never off.
   */
  upstreamCa: z.string().optional(),
  /**
   * Destinations whose certificate is NOT verified (a test origin with a
   * self-signed certificate): the opt-out, per destination, never
   * process-wide. Their traffic can be read and changed by anyone on the path.
   */
  unverified: z.array(destination).default([]),
  /** Leaf certificates kept ready, most recently used first. */
  cacheSize: z.number().int().min(1).default(1000),
  /**
   * shared: every leaf carries one P-256 key made at start (mitmproxy's
   * way: a new host costs one signature); per-host: each leaf a fresh P-256
   * key, made in the thread pool, so no two hosts' certificates share a key.
   */
  leafKey: z.enum(['shared', 'per-host']).default('shared'),
  /**
   * TLS contexts with the leaf key loaded, made ahead in idle event-loop
   * turns (~38 KiB each), so a burst of new hosts only loads certificates.
   */
  spareContexts: z.number().int().min(0).max(10_000).default(128),
  /**
   * CONNECT ports whose first bytes decide between TLS and plain HTTP (a
   * browser's `ws://` and `http://` through a proxy); on every other port an
   * intercepted tunnel is TLS, terminated straight on the socket.
   */
  sniffPorts: z.array(z.number().int().min(1).max(65535)).default([80]),
  /**
   * eager: an intercepted destination's upstream connection is opened when
   * the client's ClientHello arrives after the 200, so the origin's
   * handshakes run while the client does its own (mitmproxy's
   * `connection_strategy` default), and a CONNECT followed by nothing or
   * garbage costs none; lazy: at the first request.
   */
  connectionStrategy: z.enum(['eager', 'lazy']).default('eager'),
})

/**
 * HAR capture of the forward proxy's traffic (forward/har.ts), written to
 * `path` when the gateway stops and every `interval` while it runs.
 */
const har = z.strictObject({
  /** The HAR file (relative to the configuration file); replaced whole at each write. */
  path: z.string().min(1),
  /** How often the file is written while the gateway runs; 0: only when it stops. */
  interval: duration.default(10_000),
  /** Entries kept, oldest dropped first. */
  maxEntries: z.number().int().min(1).max(1_000_000).default(10_000),
  /** Body bytes kept per request, per response and per WebSocket message; 0: none (sizes only). */
  maxBodySize: size.default(65_536),
  /** WebSocket messages recorded (Chromium's `_webSocketMessages`). */
  webSocketMessages: z.boolean().default(true),
  /**
   * Header fields whose values are written as `[redacted]`; unset: the
   * recorder's own list (Authorization, Proxy-Authorization, Cookie,
   * Set-Cookie). A list replaces it; [] records every value as sent.
   */
  redact: z
    .array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a header field name'))
    .transform((names) => names.map((n) => n.toLowerCase()))
    .optional(),
})

const r = routeSchema.shape

/**
 * Route modules for forward-proxied and intercepted requests, the keys of a
 * route of the same names: they run on every forward, chained and mitm
 * Session as on a reverse route's. The top-level `default` policy set applies
 * only when `policies` names it (a reverse proxy's default auth is rarely
 * what a forward proxy's clients carry).
 */
const forwardRoute = z.strictObject({
  policies: r.policies,
  access: r.access,
  auth: r.auth,
  rateLimit: r.rateLimit,
  concurrency: r.concurrency,
  headers: r.headers,
  compress: r.compress,
})

const users = z.record(
  z.string().regex(/^[^:]+$/, 'a user name cannot contain ":"'),
  z.string().refine((h) => parseHash(h) !== undefined, { message: HASH_FORMAT_MESSAGE }),
)

export const forwardSchema = z.strictObject({
  /** Where the forward proxy listens (clients' HTTP_PROXY / HTTPS_PROXY). */
  address: z.union([z.string(), z.number(), z.strictObject({ host: z.string(), port: z.number() })]),
  /** Destinations the safe defaults would refuse (loopback, private ranges, CONNECT ports other than 443). */
  allow: z.array(destination).default([]),
  /** Destinations always refused (checked first, on the name and on the resolved address). */
  deny: z.array(destination).default([]),
  /** CONNECT ports allowed to every destination besides 443. */
  ports: z.array(z.number().int().min(1).max(65535)).default([]),
  /** Proxy authentication (RFC 7235 §4.3-4.4, Basic per RFC 7617) against scrypt hashes. */
  auth: z.strictObject({ realm: z.string().default('portcullis'), users }).optional(),
  /** Upstream HTTP proxies by destination; the first match wins. */
  chain: z.array(chain).default([]),
  mitm: mitm.optional(),
  har: har.optional(),
  route: forwardRoute.optional(),
  timeouts: z
    .strictObject({
      /** TCP connection to a destination (CONNECT and plain). */
      connect: duration.default(10_000),
      /** A tunnel with no byte either way for this long is closed. */
      tunnelIdle: duration.default(300_000),
    })
    .prefault({}),
})
