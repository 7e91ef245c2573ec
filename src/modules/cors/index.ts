/**
 * The `cors` route policy (the Fetch standard's CORS protocol, §3.2). A
 * preflight (OPTIONS with Origin and Access-Control-Request-Method) is
 * answered here with 204 and never reaches the upstream or auth (a
 * preflight carries no credentials). On other requests from an allowed
 * origin, Access-Control-Allow-Origin (the origin itself, or `*` when any
 * origin is allowed without credentials), -Allow-Credentials and
 * -Expose-Headers are added to the response, gateway errors included (so a
 * page can read its 401 or 429). `Vary: Origin` is always added when the
 * answer depends on the origin, so caches keep answers apart. An origin
 * not allowed gets no CORS fields: the browser then withholds the response.
 */
import type { GatewayHooks, HookResult, ResponseHeadView } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import { addPolicyFields, applyPolicyFields } from '../policy-response.ts'
import { policyOf } from '../policy-sets.ts'
import type { RouteModule } from '../registry.ts'
import type { CorsConfig } from '../../config/modules/cors.ts'

/** compileOrigins returns a predicate for the configured origins (exact, or `*.` a subdomain). */
export function compileOrigins(origins: CorsConfig['origins']): (origin: string) => boolean {
  if (origins === '*') return () => true
  const exact = new Set(origins.filter((o) => !o.includes('*')).map((o) => o.toLowerCase()))
  const patterns = origins
    .filter((o) => o.includes('*'))
    .map((o) => {
      const [scheme, rest] = o.toLowerCase().split('://*.') as [string, string]
      const escaped = rest.replace(/[.]/g, '\\.')
      // One or more DNS labels before the domain; nothing else (no "evil.com/x.example.com").
      return new RegExp(`^${scheme}://([a-z0-9-]+\\.)+${escaped}$`)
    })
  return (origin) => {
    const o = origin.toLowerCase()
    return exact.has(o) || patterns.some((p) => p.test(o))
  }
}

/** corsModule gives a route with `cors` its preflight answer and response fields. */
export const corsModule: RouteModule = function cors(route, config) {
  const cfg = policyOf(route, config, 'cors')
  if (cfg === undefined) return undefined
  const allowed = compileOrigins(cfg.origins)
  const anyOrigin = cfg.origins === '*'
  const methods = cfg.methods.join(', ')
  const maxAge = String(Math.floor(cfg.maxAge / 1000))
  const hooks: GatewayHooks = {
    onRequest: function corsRequest(session: Session): HookResult | undefined {
      const origin = session.header('origin')
      if (
        session.method === 'OPTIONS' &&
        origin !== undefined &&
        session.header('access-control-request-method')
      )
        return preflight(session, origin)
      if (origin !== undefined && allowed(origin)) addPolicyFields(session, simpleFields(origin))
      else if (!anyOrigin) addPolicyFields(session, ['Vary', 'Origin'])
      return undefined
    },
    onResponse: function corsResponse(session: Session, res: ResponseHeadView): void {
      applyPolicyFields(session, res)
    },
  }
  return hooks

  function simpleFields(origin: string): string[] {
    const out = ['Access-Control-Allow-Origin', anyOrigin && !cfg!.credentials ? '*' : origin]
    if (!anyOrigin) out.push('Vary', 'Origin')
    if (cfg!.credentials) out.push('Access-Control-Allow-Credentials', 'true')
    if (cfg!.exposeHeaders.length > 0)
      out.push('Access-Control-Expose-Headers', cfg!.exposeHeaders.join(', '))
    return out
  }

  function preflight(session: Session, origin: string): HookResult {
    const headers: [string, string][] = [
      ['Vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers'],
    ]
    if (allowed(origin)) {
      headers.push(['Access-Control-Allow-Origin', anyOrigin && !cfg!.credentials ? '*' : origin])
      headers.push(['Access-Control-Allow-Methods', methods])
      const asked = session.header('access-control-request-headers')
      const allow = cfg!.headers?.join(', ') ?? asked
      if (allow !== undefined && allow !== '') headers.push(['Access-Control-Allow-Headers', allow])
      if (cfg!.credentials) headers.push(['Access-Control-Allow-Credentials', 'true'])
      headers.push(['Access-Control-Max-Age', maxAge])
    }
    return { kind: 'respond', response: { status: 204, headers } }
  }
}
