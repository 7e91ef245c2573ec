/**
 * The `auth.forward` route policy (as nginx's auth_request or Traefik's
 * forwardAuth): before a request goes on, the auth service at `url` is
 * asked, GET, with the request's chosen headers and X-Forwarded-Method,
 * -Uri, -Host and -For. A 2xx lets the request through with the `copy`
 * headers of the answer set upstream; 401 and 403 are passed to the client
 * (with the service's WWW-Authenticate); anything else, or no answer within
 * `timeout`, is 503 AUTH_UNAVAILABLE. Decisions may be cached in a store for
 * `cache`, keyed by a hash of the method, host, target and the sent
 * headers: the same credentials on another path are asked again.
 */
import { createHash } from 'node:crypto'
import type { GatewayHooks, HookResult, UpstreamRequest } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import type { Store } from '../../store/store.ts'
import { realClientAddress, type TrustCheck } from '../client-address.ts'
import { policyError } from '../policy-response.ts'
import { policyOf } from '../policy-sets.ts'
import type { RouteModule } from '../registry.ts'
import type { ForwardAuthConfig } from '../../config/modules/forward-auth.ts'

/** A decision: the service's status and, for a pass, the headers to copy (flat), for a 401 its challenge. */
interface Decision {
  status: number
  fields: string[]
}

/** forwardAuthModule gives a route with `auth.forward` its auth-service check. */
export const forwardAuthModule: RouteModule = function forwardAuth(route, config, context) {
  const cfg = policyOf(route, config, 'auth')?.forward
  if (cfg === undefined) return undefined
  if (context === undefined) throw new Error('auth.forward: needs the gateway module context')
  const store = cfg.cache > 0 ? context.stores.get(cfg.store) : undefined
  const copied = new WeakMap<Session, string[]>()
  const hooks: GatewayHooks = {
    onRequest: async function forwardAuthCheck(session: Session): Promise<HookResult | undefined> {
      const d = await decide(session, cfg, context.trusts, store)
      if (d === undefined) return policyError(session, 'AUTH_UNAVAILABLE', [], 'forward auth: no decision')
      if (d.status >= 200 && d.status < 300) {
        if (d.fields.length > 0) copied.set(session, d.fields)
        return undefined
      }
      if (d.status === 403) return policyError(session, 'FORBIDDEN', [], 'forward auth: 403')
      const challenge = d.fields.length > 0 ? d.fields : ['WWW-Authenticate', 'Bearer realm="portcullis"']
      return policyError(session, 'UNAUTHENTICATED', challenge, 'forward auth: 401')
    },
    onUpstreamRequest: function forwardAuthHeaders(session: Session, req: UpstreamRequest): void {
      for (const name of cfg.copy) req.headers.delete(name)
      const fields = copied.get(session)
      if (fields !== undefined)
        for (let i = 0; i < fields.length; i += 2) req.headers.set(fields[i]!, fields[i + 1]!)
    },
  }
  return hooks
}

/** decide returns the (possibly cached) decision, or undefined when the service failed. */
async function decide(
  session: Session,
  cfg: ForwardAuthConfig,
  trusts: TrustCheck,
  store: Store | undefined,
): Promise<Decision | undefined> {
  const headers: Record<string, string> = {
    'x-forwarded-method': session.method,
    'x-forwarded-uri': session.head.target,
    'x-forwarded-host': session.host,
    'x-forwarded-for': realClientAddress(session, trusts),
  }
  for (const name of cfg.headers) {
    const v = session.header(name)
    if (v !== undefined) headers[name] = v
  }
  const key =
    store === undefined
      ? ''
      : `fa:${createHash('sha256')
          .update(JSON.stringify([cfg.url, headers]))
          .digest('base64url')}`
  if (store !== undefined) {
    const hit = await store.get(key).catch(() => undefined)
    if (hit !== undefined) return JSON.parse(hit) as Decision
  }
  const d = await ask(cfg, headers)
  if (d !== undefined && store !== undefined)
    await store.set(key, JSON.stringify(d), { ttlMs: cfg.cache }).catch(() => false)
  return d
}

/** ask calls the auth service once, bounded by the timeout. */
async function ask(cfg: ForwardAuthConfig, headers: Record<string, string>): Promise<Decision | undefined> {
  try {
    const res = await fetch(cfg.url, {
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(cfg.timeout),
    })
    await res.body?.cancel()
    if (res.status >= 200 && res.status < 300) {
      const fields: string[] = []
      for (const name of cfg.copy) {
        const v = res.headers.get(name)
        if (v !== null) fields.push(name, v)
      }
      return { status: res.status, fields }
    }
    if (res.status === 403) return { status: 403, fields: [] }
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate')
      return { status: 401, fields: challenge === null ? [] : ['WWW-Authenticate', challenge] }
    }
    return undefined
  } catch {
    return undefined
  }
}
