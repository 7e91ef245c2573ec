/**
 * The `redirect` route action: answer with a 301/302/303/307/308 and a
 * Location built from a template (`https://{request.hostname}{request.path}`),
 * keeping the request's query unless told otherwise. It answers in
 * onRequest, so the request never goes upstream.
 */
import { paramNamesOf } from '../../config/route-schema.ts'
import { type GatewayHooks, type HookResult, respond } from '../../core/hooks.ts'
import { compileTemplate } from '../../core/placeholders.ts'
import type { Session } from '../../core/session.ts'
import type { RouteModule } from '../registry.ts'
import { sameSiteGuard } from '../../config/redirect-target.ts'

/** Templates that already carry the query: then keepQuery defaults to false. */
const CARRIES_QUERY_RE = /\{request\.(query|uri)\}/

/** redirect gives a route with `redirect:` its onRequest hook. */
export const redirectModule: RouteModule = function redirect(route): GatewayHooks | undefined {
  const cfg = route.redirect
  if (cfg === undefined) return undefined
  const to = compileTemplate(cfg.to, { params: paramNamesOf(route.match) })
  const keepQuery = cfg.keepQuery ?? !CARRIES_QUERY_RE.test(cfg.to)
  const status = cfg.status
  const guard = sameSiteGuard(cfg.to)
  return {
    onRequest: function answerRedirect(session: Session): HookResult {
      const target = guard(to.render(session))
      const location = keepQuery ? withQuery(target, session.query) : target
      return respond(status, `Redirecting to ${location}\n`, {
        Location: location,
        'Content-Type': 'text/plain; charset=utf-8',
      })
    },
  }
}

/**
 * withQuery appends `query` to a URL or path: after its own query with `&`,
 * and before a fragment (RFC 3986 §3: the query precedes the fragment).
 */
export function withQuery(url: string, query: string): string {
  if (query === '') return url
  const hash = url.indexOf('#')
  const base = hash === -1 ? url : url.slice(0, hash)
  const fragment = hash === -1 ? '' : url.slice(hash)
  const sep = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&'
  return `${base}${sep}${query}${fragment}`
}
