/**
 * Verification keys and the algorithms each may verify. An algorithm is
 * allowed only for the key type it belongs to (RFC 8725 §3.1, §2.1): an
 * HMAC secret verifies HS*, an RSA key RS* and PS*, an EC key the ES* of its
 * curve, an Ed25519 key EdDSA. So an HS256 token "signed" with an RSA public
 * key's PEM as the secret (algorithm confusion) is refused: the RSA key
 * never verifies HS*. `none` is never allowed.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { JwtAlgorithm } from './modules/jwt.ts'

/** A key and the algorithms it may verify. */
export interface VerificationKey {
  readonly key: KeyObject | Uint8Array
  readonly algorithms: readonly JwtAlgorithm[]
}

const EC_CURVES: Record<string, JwtAlgorithm> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
}

/** algorithmsFor lists what an asymmetric public key may verify; empty when nothing. */
export function algorithmsFor(key: KeyObject): JwtAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512']
    case 'ec': {
      const alg = EC_CURVES[key.asymmetricKeyDetails?.namedCurve ?? '']
      return alg === undefined ? [] : [alg]
    }
    case 'ed25519':
      return ['EdDSA']
    default:
      return []
  }
}

/** restrict keeps the algorithms `configured` allows (all when undefined). */
export function restrict(
  algorithms: readonly JwtAlgorithm[],
  configured: readonly JwtAlgorithm[] | undefined,
): JwtAlgorithm[] {
  return configured === undefined ? [...algorithms] : algorithms.filter((a) => configured.includes(a))
}

/** secretKey is an HMAC key: HS256/384/512 only. */
export function secretKey(secret: string, configured?: readonly JwtAlgorithm[]): VerificationKey {
  const algorithms = restrict(['HS256', 'HS384', 'HS512'], configured)
  if (algorithms.length === 0) throw new Error('auth.jwt: secret verifies HS256/384/512 only')
  return { key: new TextEncoder().encode(secret), algorithms }
}

/**
 * publicKeyFrom reads a PEM public key (or certificate) from a file, or from
 * `source` itself when it is PEM text. Throws on a private or unusable key.
 */
export function publicKeyFrom(source: string, configured?: readonly JwtAlgorithm[]): VerificationKey {
  const pem = source.trimStart().startsWith('-----BEGIN') ? source : readFileSync(source, 'utf8')
  const key = createPublicKey(pem)
  const algorithms = restrict(algorithmsFor(key), configured)
  if (algorithms.length === 0)
    throw new Error(`auth.jwt: a ${key.asymmetricKeyType} key verifies none of the allowed algorithms`)
  return { key, algorithms }
}

/**
 * jwkKey imports one JWK of a JWK Set (RFC 7517 §4); undefined for keys a
 * gateway must not use: symmetric (`oct`) or private material, `use` other
 * than `sig`, an `alg` its type cannot verify.
 */
export function jwkKey(
  jwk: Record<string, unknown>,
  configured?: readonly JwtAlgorithm[],
): VerificationKey | undefined {
  if (jwk.kty === 'oct' || jwk.d !== undefined) return undefined
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined
  let key: KeyObject
  try {
    key = createPublicKey({ key: jwk as never, format: 'jwk' })
  } catch {
    return undefined
  }
  let algorithms = restrict(algorithmsFor(key), configured)
  if (typeof jwk.alg === 'string') algorithms = algorithms.filter((a) => a === jwk.alg)
  return algorithms.length === 0 ? undefined : { key, algorithms }
}

/**
 * keySet imports the JWKs of a set (RFC 7517 §5) by `kid` ('' for a key
 * without one), skipping what jwkKey refuses; at most `max` keys are read.
 */
export function keySet(
  jwks: readonly unknown[],
  configured?: readonly JwtAlgorithm[],
  max = Infinity,
): Map<string, VerificationKey> {
  const keys = new Map<string, VerificationKey>()
  for (const jwk of jwks.slice(0, max)) {
    if (typeof jwk !== 'object' || jwk === null) continue
    const key = jwkKey(jwk as Record<string, unknown>, configured)
    const kid = (jwk as { kid?: unknown }).kid
    if (key !== undefined) keys.set(typeof kid === 'string' ? kid : '', key)
  }
  return keys
}

/** lookupKey finds `kid` in a set; a token without `kid` matches a set of one key only. */
export function lookupKey(
  keys: Map<string, VerificationKey>,
  kid: string | undefined,
): VerificationKey | undefined {
  if (kid !== undefined) return keys.get(kid)
  return keys.size === 1 ? keys.values().next().value : undefined
}
