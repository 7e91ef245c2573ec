/**
 * The `auth.apiKey` route policy: the request carries a key (a header or a
 * query parameter); its SHA-256 must be one of the configured hashes, and
 * the key's consumer becomes `session.consumer`. Keys are random strings of
 * high entropy, so an unsalted SHA-256 is enough to keep them out of the
 * configuration; the lookup is by hash, so its timing can reveal nothing
 * about the key itself, and the match is confirmed with timingSafeEqual.
 * A request without a valid key gets 401 with an `ApiKey` challenge (RFC
 * 9110 §11.6.1 requires one on every 401). The key is never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { GatewayHooks, HookResult } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import { compileSources } from '../jwt/token.ts'
import { policyError } from '../policy-response.ts'
import { policyOf } from '../policy-sets.ts'
import type { RouteModule } from '../registry.ts'

/** apiKeyModule gives a route with `auth.apiKey` its key check. */
export const apiKeyModule: RouteModule = function apiKey(route, config) {
  const cfg = policyOf(route, config, 'auth')?.apiKey
  if (cfg === undefined) return undefined
  const byHash = new Map<string, { digest: Buffer; consumer: string }>()
  for (const k of cfg.keys) {
    const hex = k.hash.slice('sha256:'.length)
    byHash.set(hex, { digest: Buffer.from(hex, 'hex'), consumer: k.consumer })
  }
  const read = compileSources(cfg.from)
  const names = cfg.from.map((f) => f.replace(':', '="')).join('", ')
  const challenge = `ApiKey realm="${cfg.realm.replace(/["\\]/g, '')}", ${names}"`
  const hooks: GatewayHooks = {
    onRequest: function apiKeyAuth(session: Session): HookResult | undefined {
      const key = read(session)
      if (key !== undefined) {
        const digest = createHash('sha256').update(key).digest()
        const found = byHash.get(digest.toString('hex'))
        if (found !== undefined && timingSafeEqual(found.digest, digest)) {
          session.consumer = found.consumer
          return undefined
        }
      }
      const why = key === undefined ? 'apiKey: no key' : 'apiKey: unknown key'
      return policyError(session, 'UNAUTHENTICATED', ['WWW-Authenticate', challenge], why)
    },
  }
  return hooks
}
