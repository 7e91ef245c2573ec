/**
 * The route table, compiled from configuration. Precedence: routes naming
 * the request's host beat host-less routes; within each group the longest
 * path prefix wins; ties go to the earlier route. Lookup is one Map probe by
 * host plus a scan of that host's (usually few) routes.
 */
import type { RouteConfig } from '../config/schema.ts'
import { compileHooks, type HookLists } from '../core/hooks.ts'
import type { RouteInfo } from '../core/session.ts'

/** A route ready for matching. */
export interface CompiledRoute extends RouteInfo {
  readonly index: number
  readonly path: string | undefined
  readonly methods: ReadonlySet<string> | undefined
  readonly config: RouteConfig
  /** The hooks this route runs: its modules' then the user's (shared when it has no modules). */
  readonly hooks: HookLists
}

export class Router {
  private readonly byHost = new Map<string, CompiledRoute[]>()
  private readonly anyHost: CompiledRoute[] = []
  readonly routes: readonly CompiledRoute[]

  /** `hooksFor` gives each route its phase hooks; by default none. */
  constructor(routes: readonly RouteConfig[], hooksFor: (route: RouteConfig) => HookLists = noHooks) {
    this.routes = routes.map((r, i) => compileRoute(r, i, hooksFor(r)))
    for (const r of this.routes) {
      const hosts = r.config.match.host
      if (hosts === undefined) {
        this.anyHost.push(r)
        continue
      }
      for (const h of hosts) {
        const key = normalizeHost(h)
        const list = this.byHost.get(key)
        if (list === undefined) this.byHost.set(key, [r])
        else list.push(r)
      }
    }
    for (const list of this.byHost.values()) list.sort(byPrecedence)
    this.anyHost.sort(byPrecedence)
  }

  /** match returns the route for a request, or undefined (404). `host` may carry a port. */
  match(host: string, path: string, method: string): CompiledRoute | undefined {
    if (this.byHost.size > 0) {
      const list = this.byHost.get(normalizeHost(host))
      if (list !== undefined) {
        const r = firstMatch(list, path, method)
        if (r !== undefined) return r
      }
    }
    return firstMatch(this.anyHost, path, method)
  }
}

function noHooks(): HookLists {
  return compileHooks([])
}

function compileRoute(config: RouteConfig, index: number, hooks: HookLists): CompiledRoute {
  const methods = config.match.methods
  return {
    index,
    name: config.name ?? `route-${index}`,
    upstream: config.upstream,
    path: config.match.path === '/' ? undefined : config.match.path,
    methods: methods === undefined ? undefined : new Set(methods),
    config,
    hooks,
  }
}

function byPrecedence(a: CompiledRoute, b: CompiledRoute): number {
  return (b.path?.length ?? 0) - (a.path?.length ?? 0) || a.index - b.index
}

function firstMatch(list: readonly CompiledRoute[], path: string, method: string): CompiledRoute | undefined {
  for (let i = 0; i < list.length; i++) {
    const r = list[i]!
    if (r.path !== undefined && !pathHasPrefix(path, r.path)) continue
    if (r.methods !== undefined && !r.methods.has(method)) continue
    return r
  }
  return undefined
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
  return h.toLowerCase()
}
