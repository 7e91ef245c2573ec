/**
 * The `auth.basic` route policy (RFC 7617): `Authorization: Basic
 * base64(user:password)` checked against scrypt hashes (hash.ts), off the
 * event loop. An unknown user is checked against a dummy hash too, so the
 * answer takes as long as for a known one. The user becomes
 * `session.consumer`. Successes are remembered for a minute (keyed by an
 * HMAC of the credentials under a per-process random key, bounded), so a
 * browser repeating its credentials on every request does not pay scrypt
 * each time; failures never are. 401 carries `WWW-Authenticate: Basic
 * realm="…", charset="UTF-8"`. Credentials are never logged.
 */
import { createHmac, randomBytes } from 'node:crypto'
import type { GatewayHooks, HookResult } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import { policyError } from '../policy-response.ts'
import { policyOf } from '../policy-sets.ts'
import type { RouteModule } from '../registry.ts'
import { dummyLike, parseHash, verifyPassword } from '../../config/password-hash.ts'

const REMEMBER_MS = 60_000
const REMEMBER_MAX = 10_000

/** basicAuthModule gives a route with `auth.basic` its credentials check. */
export const basicAuthModule: RouteModule = function basicAuth(route, config) {
  const cfg = policyOf(route, config, 'auth')?.basic
  if (cfg === undefined) return undefined
  const users = new Map(Object.entries(cfg.users).map(([u, h]) => [u, parseHash(h)!]))
  const dummy = dummyLike(users.values().next().value!)
  const challenge = `Basic realm="${cfg.realm.replace(/["\\]/g, '')}", charset="UTF-8"`
  const macKey = randomBytes(32)
  const remembered = new Map<string, { user: string; until: number }>()
  const hooks: GatewayHooks = {
    onRequest: async function basicAuthCheck(session: Session): Promise<HookResult | undefined> {
      const header = session.header('authorization')
      const creds = header === undefined ? undefined : decode(header)
      if (creds === undefined)
        return policyError(
          session,
          'UNAUTHENTICATED',
          ['WWW-Authenticate', challenge],
          'basic: no credentials',
        )
      const mac = createHmac('sha256', macKey).update(header!).digest('base64')
      const seen = remembered.get(mac)
      if (seen !== undefined && performance.now() < seen.until) {
        session.consumer = seen.user
        return undefined
      }
      const hash = users.get(creds.user)
      const ok = (await verifyPassword(creds.password, hash ?? dummy)) && hash !== undefined
      if (!ok)
        return policyError(session, 'UNAUTHENTICATED', ['WWW-Authenticate', challenge], 'basic: rejected')
      if (remembered.size >= REMEMBER_MAX) remembered.delete(remembered.keys().next().value!)
      remembered.set(mac, { user: creds.user, until: performance.now() + REMEMBER_MS })
      session.consumer = creds.user
      return undefined
    },
  }
  return hooks
}

/** decode reads `Basic base64(user:password)` (RFC 7617 §2; the scheme is case-insensitive). */
function decode(header: string): { user: string; password: string } | undefined {
  if (header.length < 7 || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined
  const text = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon <= 0) return undefined
  return { user: text.slice(0, colon), password: text.slice(colon + 1) }
}
