/**
 * The `auth.jwt` route policy: a request must carry a valid JWT (RFC 7519)
 * signed by a configured key (verifier.ts). Without one it gets 401 with a
 * Bearer challenge (RFC 6750 §3); a valid token without the required claim
 * values gets 403 `insufficient_scope`. Verified claims go to
 * `session.claims` (rate limits key on `jwt.CLAIM`), the consumer claim to
 * `session.consumer`, and configured claims upstream as request headers
 * (a client's own fields of those names are always removed). The token is
 * never logged: session errors carry only the reason.
 */
import type { GatewayHooks, HookResult, UpstreamRequest } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import { policyError } from '../policy-response.ts'
import { policyOf } from '../policy-sets.ts'
import type { RouteModule } from '../registry.ts'
import type { JwtConfig } from '../../config/modules/jwt.ts'
import { compileSources } from './token.ts'
import { JwtVerifier, type Verdict } from './verifier.ts'

/** jwtModule gives a route with `auth.jwt` its token check and claim headers. */
export const jwtModule: RouteModule = function jwt(route, config) {
  const cfg = policyOf(route, config, 'auth')?.jwt
  if (cfg === undefined) return undefined
  const verifier = new JwtVerifier(cfg)
  const read = compileSources(cfg.from)
  const realm = cfg.realm.replace(/["\\]/g, '')
  const hooks: GatewayHooks = {
    onRequest: function jwtAuth(session: Session): HookResult | undefined | Promise<HookResult | undefined> {
      const token = read(session)
      // RFC 6750 §3.1: a request without credentials gets the challenge and no error code.
      if (token === undefined) return challenge(session, `Bearer realm="${realm}"`, 'jwt: no token')
      // A token seen before answers synchronously: no promise on the common path.
      const hit = verifier.cached(token)
      if (hit !== undefined) return settle(session, hit)
      return verifier.verify(token).then((v) => settle(session, v))
    },
  }
  const forward = Object.entries(cfg.forward)
  if (forward.length > 0) hooks.onUpstreamRequest = claimHeaders(forward)
  return hooks

  /** settle applies a verdict: claims and consumer on the session, or the answer. */
  function settle(session: Session, v: Verdict): HookResult | undefined {
    if (v.ok) {
      session.claims = v.claims
      const consumer = v.claims[cfg!.consumer]
      if (typeof consumer === 'string') session.consumer = consumer
      return undefined
    }
    if (v.status === 503) return policyError(session, 'AUTH_UNAVAILABLE', [], `jwt: ${v.reason}`)
    const error = v.status === 403 ? 'insufficient_scope' : 'invalid_token'
    const value = `Bearer realm="${realm}", error="${error}", error_description="${v.reason}"`
    if (v.status === 403)
      return policyError(session, 'FORBIDDEN', ['WWW-Authenticate', value], `jwt: ${v.reason}`)
    return challenge(session, value, `jwt: ${v.reason}`)
  }
}

function challenge(session: Session, value: string, message: string): HookResult {
  return policyError(session, 'UNAUTHENTICATED', ['WWW-Authenticate', value], message)
}

/** claimHeaders sets the configured claim headers upstream, removing what the client sent under those names. */
function claimHeaders(
  forward: readonly (readonly [string, string])[],
): NonNullable<GatewayHooks['onUpstreamRequest']> {
  return function jwtClaimHeaders(session: Session, req: UpstreamRequest): void {
    for (const [header, claim] of forward) {
      req.headers.delete(header)
      const v = session.claims?.[claim]
      if (v === undefined || v === null) continue
      const text = typeof v === 'string' ? v : JSON.stringify(v)
      // A claim is the issuer's text, not ours: never let it break the head.
      if (!/[\0\r\n]/.test(text)) req.headers.set(header, text)
    }
  }
}

export type { JwtConfig }
