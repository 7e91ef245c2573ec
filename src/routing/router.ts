/**
 * The route table, compiled from configuration.
 *
 * Precedence (docs/configuration.md, `routes`): the most specific host
 * first — an exact host, then `*.suffix` wildcards from the longest suffix,
 * then routes without a host; within a host, the route with the longest
 * literal path first, then the earlier route. The first route whose every
 * condition holds wins; when none of a host's routes does, the next less
 * specific host's routes are tried.
 *
 * Lookup does not scan the table: hosts are Map probes (wildcards one probe
 * per dot of the request's host), and within a host routes are indexed by
 * their first literal path segment, so only that segment's routes and the
 * few whose first segment is dynamic (patterns like `/:tenant`, regexes, a
 * catch-all) are candidates. Matching allocates nothing unless a route
 * captures parameters or tests the query.
 */
import type { RouteConfig } from '../config/schema.ts'
import { compileHooks, type HookLists } from '../core/hooks.ts'
import type { RouteInfo, Session } from '../core/session.ts'
import { type Condition, compileConditions } from './conditions.ts'
import {
  exactMatcher,
  type PathMatcher,
  patternMatcher,
  prefixMatcher,
  regexMatcher,
} from './path-matchers.ts'

/** A route ready for matching. */
export interface CompiledRoute extends RouteInfo {
  readonly index: number
  /** The `match.path` prefix, when it is set and not `/`. */
  readonly path: string | undefined
  /** How the path is matched; undefined matches every path. */
  readonly pathMatcher: PathMatcher | undefined
  /** Literal path characters the route requires; more wins. */
  readonly specificity: number
  readonly methods: ReadonlySet<string> | undefined
  /** Header, query and client conditions, all of which must hold. */
  readonly conditions: readonly Condition[] | undefined
  readonly config: RouteConfig
  /** The hooks this route runs: its modules' then the user's (shared when it has no modules). */
  readonly hooks: HookLists
}

export class Router {
  private readonly byHost = new Map<string, PathIndex>()
  /** Wildcard hosts by the hash of their suffix (`.example.com`). */
  private readonly byWildcard = new Map<number, WildcardHost[]>()
  private readonly anyHost = new PathIndex()
  readonly routes: readonly CompiledRoute[]

  /** `hooksFor` gives each route its phase hooks; by default none. */
  constructor(routes: readonly RouteConfig[], hooksFor: (route: RouteConfig) => HookLists = noHooks) {
    this.routes = routes.map((r, i) => compileRoute(r, i, hooksFor(r)))
    for (const r of this.routes) {
      const hosts = r.config.match.host
      if (hosts === undefined) this.anyHost.add(r)
      else for (const h of new Set(hosts.map(normalizeHost))) this.indexFor(h).add(r)
    }
    for (const index of this.byHost.values()) index.seal()
    for (const list of this.byWildcard.values()) for (const w of list) w.index.seal()
    this.anyHost.seal()
  }

  /**
   * match returns the route for the session's request, or undefined (404).
   * The target was normalised before (normalize-path.ts, in the request
   * phases), so routing, rewrites and the upstream see one path.
   * When the route captures path parameters, they are set on `session.params`.
   */
  match(session: Session): CompiledRoute | undefined {
    const target = session.head.target
    let pathEnd = target.indexOf('?')
    if (pathEnd === -1) pathEnd = target.length
    let r: CompiledRoute | undefined
    if (this.byHost.size > 0 || this.byWildcard.size > 0) {
      const host = normalizeHost(session.host)
      r = this.byHost.get(host)?.match(session, target, pathEnd)
      if (r === undefined && this.byWildcard.size > 0) r = this.matchWildcard(host, session, target, pathEnd)
    }
    r ??= this.anyHost.match(session, target, pathEnd)
    if (r !== undefined && r.pathMatcher !== undefined && r.pathMatcher.paramNames.length > 0)
      session.params = r.pathMatcher.params(target, pathEnd)
    return r
  }

  /** matchWildcard tries `*.suffix` hosts from the longest suffix of `host` to the shortest. */
  private matchWildcard(
    host: string,
    session: Session,
    target: string,
    pathEnd: number,
  ): CompiledRoute | undefined {
    for (let dot = host.indexOf('.', 1); dot !== -1; dot = host.indexOf('.', dot + 1)) {
      const list = this.byWildcard.get(hashRange(host, dot, host.length))
      if (list === undefined) continue
      for (const w of list) {
        if (w.suffix.length !== host.length - dot || !host.endsWith(w.suffix)) continue
        const r = w.index.match(session, target, pathEnd)
        if (r !== undefined) return r
      }
    }
    return undefined
  }

  private indexFor(host: string): PathIndex {
    if (host.startsWith('*.')) {
      const suffix = host.slice(1)
      const key = hashRange(suffix, 0, suffix.length)
      const list = this.byWildcard.get(key) ?? []
      this.byWildcard.set(key, list)
      let w = list.find((x) => x.suffix === suffix)
      if (w === undefined) list.push((w = { suffix, index: new PathIndex() }))
      return w.index
    }
    let index = this.byHost.get(host)
    if (index === undefined) this.byHost.set(host, (index = new PathIndex()))
    return index
  }
}

interface WildcardHost {
  /** `.example.com` for `*.example.com`. */
  readonly suffix: string
  readonly index: PathIndex
}

/**
 * PathIndex holds the routes of one host: those with a literal first path
 * segment by that segment's hash, the others (dynamic first segment, no
 * path condition) in one list. Both are kept in precedence order and merged
 * while matching.
 */
class PathIndex {
  private readonly bySegment = new Map<number, CompiledRoute[]>()
  private readonly rest: CompiledRoute[] = []

  add(r: CompiledRoute): void {
    const seg = r.pathMatcher?.firstSegment
    if (seg === undefined) {
      this.rest.push(r)
      return
    }
    const key = hashRange(seg, 0, seg.length)
    const list = this.bySegment.get(key)
    if (list === undefined) this.bySegment.set(key, [r])
    else list.push(r)
  }

  seal(): void {
    for (const list of this.bySegment.values()) list.sort(byPrecedence)
    this.rest.sort(byPrecedence)
  }

  match(session: Session, target: string, pathEnd: number): CompiledRoute | undefined {
    const rest = this.rest
    let seg: CompiledRoute[] | undefined
    if (this.bySegment.size > 0 && target.charCodeAt(0) === 0x2f)
      seg = this.bySegment.get(hashRange(target, 1, pathEnd, 0x2f))
    if (seg === undefined) {
      for (let j = 0; j < rest.length; j++) if (accepts(rest[j]!, session, target, pathEnd)) return rest[j]
      return undefined
    }
    let i = 0
    let j = 0
    while (i < seg.length || j < rest.length) {
      const r =
        j >= rest.length || (i < seg.length && byPrecedence(seg[i]!, rest[j]!) < 0) ? seg[i++]! : rest[j++]!
      if (accepts(r, session, target, pathEnd)) return r
    }
    return undefined
  }
}

/** accepts tests every condition of a route, cheapest first. */
function accepts(r: CompiledRoute, session: Session, target: string, pathEnd: number): boolean {
  if (r.pathMatcher !== undefined && !r.pathMatcher.test(target, pathEnd)) return false
  if (r.methods !== undefined && !r.methods.has(session.method)) return false
  const conditions = r.conditions
  if (conditions !== undefined) {
    for (let i = 0; i < conditions.length; i++) if (!conditions[i]!(session)) return false
  }
  return true
}

function noHooks(): HookLists {
  return compileHooks([])
}

function compileRoute(config: RouteConfig, index: number, hooks: HookLists): CompiledRoute {
  const m = config.match
  const pathMatcher = compilePathMatcher(m)
  return {
    index,
    name: config.name ?? `route-${index}`,
    upstream: config.upstream,
    path: m.path === '/' ? undefined : m.path,
    pathMatcher,
    specificity: pathMatcher?.specificity ?? 0,
    methods: m.methods === undefined ? undefined : new Set(m.methods),
    conditions: compileConditions(m),
    config,
    hooks,
  }
}

function compilePathMatcher(m: RouteConfig['match']): PathMatcher | undefined {
  if (m.exact !== undefined) return exactMatcher(m.exact)
  if (m.pattern !== undefined) return patternMatcher(m.pattern)
  if (m.regex !== undefined) return regexMatcher(m.regex)
  if (m.path !== undefined && m.path !== '/') return prefixMatcher(m.path)
  return undefined
}

/** byPrecedence orders the longest literal path first, then the earlier route. */
function byPrecedence(a: CompiledRoute, b: CompiledRoute): number {
  return b.specificity - a.specificity || a.index - b.index
}

/**
 * hashRange is FNV-1a over `s[from, to)`, or up to the first `stop`
 * character, kept within a small integer so Map lookups by it allocate
 * nothing. Collisions are harmless: every candidate is tested in full.
 */
function hashRange(s: string, from: number, to: number, stop = -1): number {
  let h = 0x811c9dc5
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c === stop) break
    h = Math.imul(h ^ c, 0x01000193)
  }
  return h & 0x3fffffff
}

/**
 * pathHasPrefix is prefix matching on segment boundaries: `/v1` matches
 * `/v1` and `/v1/x` but not `/v10`. A prefix ending in `/` matches below it.
 */
export function pathHasPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false
  return path.length === prefix.length || prefix.endsWith('/') || path.charCodeAt(prefix.length) === 0x2f
}

/** normalizeHost lowercases and drops the port (and a trailing dot), keeping IPv6 brackets. */
export function normalizeHost(host: string): string {
  let end = host.length
  const colon = host.lastIndexOf(':')
  if (colon !== -1 && host.indexOf(']', colon) === -1) end = colon
  if (end > 0 && host.charCodeAt(end - 1) === 0x2e) end--
  const h = end === host.length ? host : host.slice(0, end)
  // Most Host fields are lowercase already: look before calling toLowerCase.
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i)
    if (c >= 0x41 && c <= 0x5a) return h.toLowerCase()
  }
  return h
}
