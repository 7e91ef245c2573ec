/**
 * The `rewrite` route transform: change the path (a template, a stripped or
 * replaced prefix, or a regex replacement) and the Host of a proxied
 * request, in onUpstreamRequest. The query is kept; the target's base path
 * (`http://h/base`) is prefixed after the rewrite.
 */
import { paramNamesOf } from '../../config/route-schema.ts'
import type { RouteConfig } from '../../config/schema.ts'
import type { GatewayHooks, UpstreamRequest } from '../../core/hooks.ts'
import { compileTemplate, type TemplateScope } from '../../core/placeholders.ts'
import type { Session } from '../../core/session.ts'
import { pathHasPrefix } from '../../routing/router.ts'
import type { RouteModule } from '../registry.ts'

/** Rewrites the path part of a request target (no query). */
type PathRewrite = (path: string, session: Session) => string

/** rewrite gives a route with `rewrite:` its onUpstreamRequest hook. */
export const rewriteModule: RouteModule = function rewrite(route): GatewayHooks | undefined {
  const cfg = route.rewrite
  if (cfg === undefined) return undefined
  const scope: TemplateScope = { params: paramNamesOf(route.match) }
  const path = compilePathRewrite(route, scope)
  const host = cfg.host === undefined ? undefined : compileTemplate(cfg.host, scope)
  if (path === undefined && host === undefined) return undefined
  return {
    onUpstreamRequest: function rewriteRequest(session: Session, req: UpstreamRequest): void {
      if (path !== undefined) req.path = rewriteTarget(req.path, session, path)
      if (host !== undefined) req.headers.set('Host', host.render(session))
    },
  }
}

/** compilePathRewrite returns the route's path rewrite, or undefined when it only sets Host. */
export function compilePathRewrite(route: RouteConfig, scope: TemplateScope): PathRewrite | undefined {
  const cfg = route.rewrite!
  if (cfg.path !== undefined) {
    const t = compileTemplate(cfg.path, scope)
    return (_path, session) => t.render(session)
  }
  if (cfg.stripPrefix !== undefined && cfg.stripPrefix !== false) {
    const prefix = cfg.stripPrefix === true ? route.match.path! : cfg.stripPrefix
    return (path) => (pathHasPrefix(path, prefix) ? path.slice(prefix.length) : path)
  }
  if (cfg.replacePrefix !== undefined) {
    const { from, to } = cfg.replacePrefix
    return (path) => (pathHasPrefix(path, from) ? joinPath(to, path.slice(from.length)) : path)
  }
  if (cfg.regex !== undefined) {
    const re = new RegExp(cfg.regex.pattern)
    const replace = cfg.regex.replace
    return (path) => path.replace(re, replace)
  }
  return undefined
}

/**
 * rewriteTarget applies `rewritePath` to the path of an upstream target,
 * leaving the target's base path before it and the query after it alone
 * (joined with `&` when the rewritten path brings a query of its own).
 * Module hooks run before user hooks, so `target` is still `base + request target`.
 */
export function rewriteTarget(target: string, session: Session, rewritePath: PathRewrite): string {
  const original = session.head.target
  const base = target.endsWith(original) ? target.length - original.length : 0
  let q = target.indexOf('?', base)
  if (q === -1) q = target.length
  let path = rewritePath(target.slice(base, q), session)
  if (path.charCodeAt(0) !== 0x2f) path = `/${path}`
  // A rewrite may add a query of its own (`/items/$2?kind=$1`): the request's joins it.
  const query = q < target.length && path.includes('?') ? `&${target.slice(q + 1)}` : target.slice(q)
  return target.slice(0, base) + path + query
}

/** joinPath puts `rest` (empty or starting with `/`) after `prefix` without doubling the slash. */
function joinPath(prefix: string, rest: string): string {
  if (rest === '') return prefix
  return prefix.endsWith('/') ? prefix + rest.slice(1) : prefix + rest
}
