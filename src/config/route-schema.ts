/**
 * The schema of `routes[]`: how a request is matched (host, path, method,
 * headers, query, client address), what is done with it (one action) and
 * how it is transformed on the way (rewrites, header changes). Keys are
 * documented in docs/configuration.md, section `routes`; keep the two in step.
 */
import { z } from 'zod'
import { templateProblem } from '../core/placeholders.ts'
import { accessSchema } from './modules/access.ts'
import { authSchema } from './modules/auth.ts'
import { routeCompressSchema } from './modules/compress.ts'
import { concurrencySchema } from './modules/concurrency.ts'
import { routePolicySetsSchema } from './modules/policy-sets.ts'
import { corsSchema } from './modules/cors.ts'
import { routeRateLimitSchema } from './modules/rate-limit.ts'
import { redirectTargetProblem } from './redirect-target.ts'
import { staticSchema } from './modules/static.ts'
import { checkRegex, parsePattern, regexGroups } from './path-patterns.ts'
import { isIpOrCidr } from './ip.ts'
import { routeResilienceKeys } from './resilience-schema.ts'

/** An RFC 9110 §5.6.2 token: method names and header field names. */
export const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Upgrade protocol names (RFC 9110 §7.8), lowercased: `websocket`. An empty
 * list refuses every upgrade. `h2c` is refused outright: an h2c tunnel
 * carries many requests the route table never sees.
 */
export const upgradeProtocols = z
  .array(
    z
      .string()
      .regex(TOKEN_RE, 'not a protocol name')
      .transform((p) => p.toLowerCase())
      .refine((p) => p !== 'h2c', {
        message: 'h2c cannot be proxied as an upgrade: its streams would bypass routing',
      }),
  )
  .transform((list) => [...new Set(list)])

const stringList = z
  .union([z.string(), z.array(z.string()).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]))

const absolutePath = z.string().refine((p) => p.startsWith('/'), { message: 'must start with /' })

/** A regular expression, compiled once here so a bad one is a configuration error. */
const regexSource = z.string().superRefine((source, ctx) => {
  const re = checkRegex(source)
  if (typeof re === 'string') ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${re}` })
})

/** Text with placeholders; numbers are accepted as text (`x-version: 2`). */
const template = z.union([z.string(), z.number().transform(String)]).superRefine((text, ctx) => {
  // A refinement, not a transform, so the route-level checks still run and report their problems too.
  const problem = templateProblem(text)
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
})

/** `value` (equals), `{ present: true|false }` or `{ regex }`; scalars are compared as text. */
const valueMatch = z.union([
  z.union([z.string(), z.number(), z.boolean()]).transform(String),
  z
    .strictObject({ present: z.boolean().optional(), regex: regexSource.optional() })
    .refine((v) => (v.present === undefined) !== (v.regex === undefined), {
      message: 'needs exactly one of present or regex',
    }),
])

export type ValueMatch = z.output<typeof valueMatch>

const hostPattern = z.string().refine((h) => !h.includes('*') || /^\*\.[^*]+$/.test(h), {
  message: 'a wildcard host is written *.example.com; leave out match.host to match any host',
})

const PATH_MATCHERS = ['path', 'exact', 'pattern', 'regex'] as const

const match = z
  .strictObject({
    /** Host names or `*.example.com` wildcards, matched case- and port-insensitively. */
    host: z
      .union([hostPattern, z.array(hostPattern).min(1)])
      .transform((v) => (Array.isArray(v) ? v : [v]))
      .optional(),
    /** A path prefix on segment boundaries: `/v1` matches `/v1` and `/v1/x`, not `/v10`. */
    path: absolutePath.optional(),
    /** One exact path (the query is not part of it). */
    exact: absolutePath.optional(),
    /** Segments with parameters: `/users/:id`, `/files/*path`. */
    pattern: z
      .string()
      .superRefine((p, ctx) => {
        const parsed = parsePattern(p)
        if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed })
      })
      .optional(),
    /** A regular expression tested against the path; its groups become parameters. */
    regex: regexSource.optional(),
    methods: z
      .array(z.string().regex(TOKEN_RE, 'not an HTTP method token'))
      .min(1)
      .transform((ms) => ms.map((m) => m.toUpperCase()))
      .optional(),
    /** Request header conditions, all of which must hold. */
    headers: z.record(z.string().regex(TOKEN_RE, 'not a header field name'), valueMatch).optional(),
    /** Query parameter conditions, all of which must hold. */
    query: z.record(z.string().min(1), valueMatch).optional(),
    /** The connecting client's address must be in one of these IPs or CIDRs. */
    clients: stringList
      .pipe(z.array(z.string().refine(isIpOrCidr, { message: 'must be an IP address or CIDR (10.0.0.0/8)' })))
      .optional(),
  })
  .refine((m) => PATH_MATCHERS.filter((k) => m[k] !== undefined).length <= 1, {
    message: 'use one of path, exact, pattern or regex',
  })
  .prefault({})

const respond = z.strictObject({
  status: z.number().int().min(200).max(599).default(200),
  body: z.string().default(''),
  headers: z.record(z.string(), z.string()).default({}),
})

const REDIRECT_STATUSES = [301, 302, 303, 307, 308]

const redirect = z.strictObject({
  /** Where to: an absolute URL or a path, with placeholders (`https://{request.hostname}{request.path}`). */
  to: template
    .refine((t) => /^(\/|https?:\/\/|\{)/i.test(t), { message: 'must be a path (/new) or an http(s):// URL' })
    .superRefine((t, ctx) => {
      const problem = redirectTargetProblem(t)
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
    }),
  status: z
    .number()
    .refine((s) => REDIRECT_STATUSES.includes(s), { message: 'must be 301, 302, 303, 307 or 308' })
    .default(302),
  /** Append the request's query; by default true unless `to` uses {request.query} or {request.uri}. */
  keepQuery: z.boolean().optional(),
})

const PATH_REWRITES = ['path', 'stripPrefix', 'replacePrefix', 'regex'] as const

const rewrite = z
  .strictObject({
    /** The new path, with placeholders (`/v2/users/{params.id}`). */
    path: template
      .refine((t) => t.startsWith('/') || t.startsWith('{'), { message: 'must start with /' })
      .optional(),
    /** Remove `match.path` (true) or this prefix, on segment boundaries. */
    stripPrefix: z.union([z.boolean(), absolutePath]).optional(),
    /** Replace a leading `from` (on segment boundaries) with `to`. */
    replacePrefix: z.strictObject({ from: absolutePath, to: absolutePath }).optional(),
    /** Replace the first match of `pattern` in the path; `replace` may use `$1`, `$<name>`. */
    regex: z
      .strictObject({
        pattern: regexSource,
        replace: z.string().refine((r) => /^[\x21-\x7e]*$/.test(r), {
          message: 'may not contain spaces or control characters',
        }),
      })
      .optional(),
    /** The Host sent upstream, with placeholders. */
    host: template.optional(),
  })
  .refine((r) => PATH_REWRITES.filter((k) => r[k] !== undefined && r[k] !== false).length <= 1, {
    message: 'use one of path, stripPrefix, replacePrefix or regex',
  })

/** Fields framing or connection management depend on: never set by configuration. */
const PROTECTED_FIELDS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
])

const headerName = z
  .string()
  .regex(TOKEN_RE, 'not a header field name')
  .refine((n) => !PROTECTED_FIELDS.has(n.toLowerCase()), {
    message: 'framing and hop-by-hop fields cannot be changed',
  })

const headerChanges = z.strictObject({
  /** Replace every field of that name with one. */
  set: z.record(headerName, template).optional(),
  /** Append a field, keeping existing ones. */
  add: z.record(headerName, template).optional(),
  /** Remove every field of that name. */
  remove: z.array(headerName).optional(),
})

export type HeaderChangesConfig = z.output<typeof headerChanges>

/** The keys of a route that say what to do with a request; a route has exactly one. */
const ROUTE_ACTIONS = ['upstream', 'respond', 'redirect', 'static'] as const

export const routeSchema = z
  .strictObject({
    /** Shown in logs and metrics; defaults to the route's index. */
    name: z.string().optional(),
    match,
    /** Proxy matching requests to this upstream. */
    upstream: z.string().optional(),
    /** Answer matching requests with a fixed response. */
    respond: respond.optional(),
    /** Answer with a redirect. */
    redirect: redirect.optional(),
    /** Serve files from a directory (src/modules/static). */
    static: staticSchema.optional(),
    /** Rewrite the path or Host sent upstream. */
    rewrite: rewrite.optional(),
    /** Set, add or remove request fields (sent upstream) and response fields (sent to the client). */
    headers: z
      .strictObject({ request: headerChanges.optional(), response: headerChanges.optional() })
      .optional(),
    /** Send the client's Host upstream (default) or the target's host. */
    preserveHost: z.boolean().optional(),
    /** Protocols a client may upgrade to on this route (default: proxy.upgrades, itself [websocket]). */
    upgrades: upgradeProtocols.optional(),
    /** Compress responses: `true`, `false`, or keys overriding the top-level `compression` (src/modules/compress). */
    compress: routeCompressSchema.optional(),
    /** Policy sets (top-level `policies`) this route takes its policies from; default: `default`. */
    policies: routePolicySetsSchema.optional(),
    /** IP allow and deny lists on the real client address (src/modules/access). */
    access: accessSchema.optional(),
    /** CORS: preflights answered here, allow fields on responses (src/modules/cors). */
    cors: corsSchema.optional(),
    /** Authentication (src/modules/jwt …): exactly one method. */
    auth: authSchema.optional(),
    /** Rate limits (src/modules/rate-limit): one, a top-level `rateLimits` name, or a list. */
    rateLimit: routeRateLimitSchema.optional(),
    /** Requests in progress at once, per worker, with a bounded queue (src/modules/concurrency). */
    concurrency: concurrencySchema.optional(),
    /** Retry overrides and the whole request's timeout (src/config/resilience-schema.ts). */
    ...routeResilienceKeys,
  })
  .superRefine(checkRoute)

export type RouteConfig = z.output<typeof routeSchema>

/** checkRoute holds the rules that span keys: one action, transforms that need an upstream, known parameters. */
function checkRoute(r: RouteConfig, ctx: z.RefinementCtx): void {
  const actions = ROUTE_ACTIONS.filter((a) => r[a] !== undefined)
  if (actions.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: 'needs exactly one action: upstream, respond, redirect or static',
    })
    return
  }
  const proxied = r.upstream !== undefined
  for (const key of ['rewrite', 'headers', 'compress', 'upgrades'] as const) {
    if (r[key] !== undefined && !proxied)
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `${key} changes proxied requests and responses; this route's action is ${actions[0]}`,
      })
  }
  if (r.rewrite?.stripPrefix === true && r.match.path === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['rewrite', 'stripPrefix'],
      message:
        'true strips match.path, which this route does not set; name the prefix instead (stripPrefix: /api)',
    })
  const request = r.headers?.request
  const names = [
    ...Object.keys(request?.set ?? {}),
    ...Object.keys(request?.add ?? {}),
    ...(request?.remove ?? []),
  ]
  if (names.some((n) => n.toLowerCase() === 'host'))
    ctx.addIssue({ code: 'custom', path: ['headers', 'request'], message: 'set Host with rewrite.host' })
  checkPlaceholders(r, ctx)
  checkRedirectQuery(r, ctx)
  checkRegexReplace(r, ctx)
}

/**
 * paramNamesOf lists the parameters a route's path matcher captures;
 * undefined when the matcher itself is invalid (already reported).
 */
export function paramNamesOf(match: RouteConfig['match']): Set<string> | undefined {
  if (match.pattern !== undefined) {
    const segs = parsePattern(match.pattern)
    return typeof segs === 'string'
      ? undefined
      : new Set(segs.filter((s) => s.kind !== 'literal').map((s) => s.text))
  }
  const re = match.regex === undefined ? undefined : checkRegex(match.regex)
  if (typeof re === 'string') return undefined
  return new Set(re === undefined ? [] : regexGroups(re))
}

/** routeTemplates lists every template of a route with its key path. */
export function routeTemplates(r: RouteConfig): [(string | number)[], string][] {
  const out: [(string | number)[], string][] = []
  if (r.redirect !== undefined) out.push([['redirect', 'to'], r.redirect.to])
  if (r.rewrite?.path !== undefined) out.push([['rewrite', 'path'], r.rewrite.path])
  if (r.rewrite?.host !== undefined) out.push([['rewrite', 'host'], r.rewrite.host])
  for (const side of ['request', 'response'] as const) {
    for (const op of ['set', 'add'] as const) {
      for (const [name, value] of Object.entries(r.headers?.[side]?.[op] ?? {}))
        out.push([['headers', side, op, name], value])
    }
  }
  return out
}

function checkPlaceholders(r: RouteConfig, ctx: z.RefinementCtx): void {
  const params = paramNamesOf(r.match)
  for (const [path, text] of routeTemplates(r)) {
    const problem = templateProblem(text, { params })
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path, message: problem })
  }
}

const QUERY_PLACEHOLDER_RE = /\{request\.(query|uri)\}/

function checkRedirectQuery(r: RouteConfig, ctx: z.RefinementCtx): void {
  if (r.redirect?.keepQuery === true && QUERY_PLACEHOLDER_RE.test(r.redirect.to))
    ctx.addIssue({
      code: 'custom',
      path: ['redirect', 'keepQuery'],
      message: 'redirect.to already carries the query ({request.query} or {request.uri})',
    })
}

/** checkRegexReplace refuses `$3` or `$<name>` the rewrite regex does not capture (JS would leave them literal). */
function checkRegexReplace(r: RouteConfig, ctx: z.RefinementCtx): void {
  const rx = r.rewrite?.regex
  if (rx === undefined) return
  const re = checkRegex(rx.pattern)
  if (typeof re === 'string') return // reported at the pattern
  const groups = new Set(regexGroups(re))
  for (const m of rx.replace.matchAll(/\$(\d{1,2}|<([^>]*)>)/g)) {
    const name = m[2] ?? String(Number(m[1]))
    if (!groups.has(name))
      ctx.addIssue({
        code: 'custom',
        path: ['rewrite', 'regex', 'replace'],
        message: `${m[0]}: the pattern has no such group`,
      })
  }
}
