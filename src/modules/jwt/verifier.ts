/**
 * JwtVerifier checks one route's tokens (RFC 7519 §7.2): signature with a
 * key the token's `alg` belongs to (keys.ts), then exp and nbf with the
 * configured clock skew, iss, aud, required claims (all through jose), then
 * claim values. Verified tokens are cached (bounded, per route, never
 * shared: a cache, not state): a client repeating its token costs a map
 * lookup and a clock check, not a signature verification.
 */
import type { JWTPayload, JWTVerifyGetKey } from 'jose'

/**
 * jose, imported when the first JwtVerifier is made: a gateway without a JWT
 * route does not pay its start-up (about 50 ms). Everything below that uses
 * `jose` runs after `loaded` resolved.
 */
let jose: typeof import('jose')
let loading: Promise<unknown> | undefined
function loadJose(): Promise<unknown> {
  if (loading === undefined) {
    loading = import('jose').then((m) => (jose = m))
    loading.catch(() => {}) // a verifier never used must not crash the process; verify rethrows
  }
  return loading
}
import { JwksCache } from './jwks.ts'
import { keySet, lookupKey, publicKeyFrom, secretKey, type VerificationKey } from '../../config/jwt-keys.ts'
import { JWT_ALGORITHMS, type JwtAlgorithm, type JwtConfig } from '../../config/modules/jwt.ts'

/** The result of checking a token. */
export type Verdict =
  | { ok: true; claims: JWTPayload }
  /** 401: no valid token; `reason` is safe to show (never the token). */
  | { ok: false; status: 401; reason: string }
  /** 403: a valid token without the required claim values. */
  | { ok: false; status: 403; reason: string }
  /** 503: the keys could not be had (JWKS unreachable since start). */
  | { ok: false; status: 503; reason: string }

const CACHE_SIZE = 10_000
/** A cached verification is reused at most this long (a key rotated out stops being trusted after it). */
const CACHE_LIFE_MS = 300_000

class KeysUnavailable extends Error {}

interface Cached {
  claims: JWTPayload
  /** performance.now() after which the entry is verified again. */
  until: number
}

export class JwtVerifier {
  readonly #cfg: JwtConfig
  readonly #getKey: JWTVerifyGetKey
  readonly #algorithms: JwtAlgorithm[]
  readonly #cache = new Map<string, Cached>()
  readonly #claimChecks: [string, readonly unknown[]][]
  readonly #loaded = loadJose()

  constructor(cfg: JwtConfig) {
    this.#cfg = cfg
    if (cfg.jwks !== undefined) {
      const jwks = new JwksCache(cfg.jwks, cfg.algorithms)
      // A JWKS holds public keys only: HS* is never accepted from it.
      this.#algorithms = (cfg.algorithms ?? [...JWT_ALGORITHMS]).filter((a) => !a.startsWith('HS'))
      this.#getKey = async function jwksKey(header) {
        const found = await jwks.key(header.kid)
        if (found === 'unavailable') throw new KeysUnavailable('JWKS unavailable')
        if (found === 'unknown-kid') throw new jose.errors.JWKSNoMatchingKey()
        return checkAlg(found, header.alg)
      }
    } else if (cfg.keys !== undefined) {
      const keys = keySet(cfg.keys, cfg.algorithms)
      this.#algorithms = [...new Set([...keys.values()].flatMap((k) => k.algorithms))]
      this.#getKey = (header) => {
        const found = lookupKey(keys, header.kid)
        if (found === undefined) throw new jose.errors.JWKSNoMatchingKey()
        return checkAlg(found, header.alg)
      }
    } else {
      const key =
        cfg.secret !== undefined
          ? secretKey(cfg.secret, cfg.algorithms)
          : publicKeyFrom(cfg.publicKey!, cfg.algorithms)
      this.#algorithms = [...key.algorithms]
      this.#getKey = (header) => checkAlg(key, header.alg)
    }
    this.#claimChecks = Object.entries(cfg.claims).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])
  }

  /** cached returns the verdict for a token verified before and still timely, else undefined (no promise). */
  cached(token: string): Verdict | undefined {
    const hit = this.#cache.get(token)
    if (hit === undefined || performance.now() >= hit.until || !this.#timely(hit.claims)) return undefined
    return this.#permitted(hit.claims)
  }

  /** verify checks `token`; see Verdict. */
  async verify(token: string): Promise<Verdict> {
    const now = performance.now()
    const hit = this.cached(token)
    if (hit !== undefined) return hit
    let claims: JWTPayload
    try {
      if (jose === undefined) await this.#loaded
      claims = (await jose.jwtVerify(token, this.#getKey, this.#options())).payload
    } catch (err) {
      if (err instanceof KeysUnavailable) return { ok: false, status: 503, reason: 'keys unavailable' }
      return { ok: false, status: 401, reason: reasonOf(err) }
    }
    this.#remember(token, claims, now)
    return this.#permitted(claims)
  }

  #options() {
    const c = this.#cfg
    return {
      algorithms: this.#algorithms,
      issuer: c.issuer,
      audience: c.audience,
      clockTolerance: c.clockSkew / 1000,
      requiredClaims: c.requiredClaims,
    }
  }

  /** #timely re-checks exp and nbf (RFC 7519 §4.1.4, §4.1.5) for a cached token. */
  #timely(claims: JWTPayload): boolean {
    const now = Date.now() / 1000
    const skew = this.#cfg.clockSkew / 1000
    if (typeof claims.exp === 'number' && now - skew >= claims.exp) return false
    return !(typeof claims.nbf === 'number' && now + skew < claims.nbf)
  }

  #permitted(claims: JWTPayload): Verdict {
    for (const [name, allowed] of this.#claimChecks) {
      const v = claims[name]
      const values = Array.isArray(v) ? v : [v]
      if (!values.some((x) => allowed.includes(x)))
        return { ok: false, status: 403, reason: `claim ${name} not allowed` }
    }
    return { ok: true, claims }
  }

  #remember(token: string, claims: JWTPayload, now: number): void {
    if (this.#cache.size >= CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!)
    this.#cache.set(token, { claims, until: now + CACHE_LIFE_MS })
  }
}

/** checkAlg hands jose the key only for an algorithm of its own type (RFC 8725 §2.1). */
function checkAlg(key: VerificationKey, alg: string | undefined): VerificationKey['key'] {
  if (!key.algorithms.includes(alg as JwtAlgorithm))
    throw new jose.errors.JOSEAlgNotAllowed(`alg ${alg} not allowed for this key`)
  return key.key
}

/** reasonOf names a failure without echoing the token (RFC 6750 §3.1 error_description). */
function reasonOf(err: unknown): string {
  if (err instanceof jose.errors.JWTExpired) return 'token expired'
  if (err instanceof jose.errors.JWTClaimValidationFailed) return `claim ${err.claim} invalid`
  if (err instanceof jose.errors.JOSEAlgNotAllowed) return 'algorithm not allowed'
  if (err instanceof jose.errors.JWSSignatureVerificationFailed) return 'signature invalid'
  if (err instanceof jose.errors.JWKSNoMatchingKey) return 'unknown key'
  return 'token invalid'
}
