/**
 * The schema of `auth.jwt` (docs/configuration.md, "Authentication"): where
 * the keys come from (one of secret, publicKey, jwks), which claims must
 * hold, where the token is read and what is forwarded upstream.
 */
import { z } from 'zod'
import { keySet, publicKeyFrom } from '../jwt-keys.ts'
import { duration } from '../unit-schemas.ts'

/** The algorithms Portcullis verifies (RFC 7518 §3.1, RFC 8037 for EdDSA). `none` is never one. */
export const JWT_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const

export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number]

const jwksUrl = z.string().refine((v) => /^https?:\/\/[^/]/.test(v), { message: 'must be an http(s):// URL' })

/** `jwks: URL` or `jwks: { url, timeout, refresh, cooldown }`. */
const jwks = z.preprocess(
  (v) => (typeof v === 'string' ? { url: v } : v),
  z.strictObject({
    url: jwksUrl,
    /** A JWKS fetch is abandoned after this; no request waits longer for keys. */
    timeout: duration.default(1000),
    /** The key set is fetched again in the background this often. */
    refresh: duration.default(300_000),
    /** An unknown `kid` fetches the set again at most this often. */
    cooldown: duration.default(30_000),
  }),
)

const stringOrList = z.union([z.string(), z.array(z.string()).min(1)])

/** Where the token is read: `authorization` (Bearer), `cookie:NAME`, `query:NAME` or `header:NAME`. */
const tokenSource = z.string().regex(/^(authorization|(cookie|query|header):[!#$%&'*+\-.^_`|~0-9A-Za-z]+)$/, {
  message: 'use authorization, cookie:NAME, query:NAME or header:NAME',
})

export const jwtSchema = z
  .strictObject({
    /** A shared secret for HS256/384/512 (at least 32 bytes; write it as ${ENV}). */
    secret: z.string().min(32, 'an HMAC secret needs at least 32 bytes (RFC 7518 §3.2)').optional(),
    /** A PEM file (or PEM text) of the public key: RSA (RS*, PS*), EC (ES*) or Ed25519 (EdDSA). */
    publicKey: z.string().optional(),
    /** A JWK Set URL (RFC 7517 §5), keys chosen by `kid`. */
    jwks: jwks.optional(),
    /** Public keys written in the configuration as JWKs (RFC 7517 §4): a list, or a JWK Set `{ keys: [...] }`; chosen by `kid`. */
    keys: z
      .preprocess(
        (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) && 'keys' in v ? v.keys : v),
        z.array(z.record(z.string(), z.unknown())).min(1, 'needs at least one JWK'),
      )
      .optional(),
    /** Accepted algorithms; default every one the key type allows. */
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).optional(),
    /** Required `iss` (one of). */
    issuer: stringOrList.optional(),
    /** Required `aud` (one of). */
    audience: stringOrList.optional(),
    /** Tolerated clock difference for exp and nbf. */
    clockSkew: duration.default(30_000),
    /** Claims that must be present. */
    requiredClaims: z.array(z.string()).default([]),
    /** Claims that must have a value (or one of a list); a valid token without them gets 403. */
    claims: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]))
      .default({}),
    /** Where the token is looked for, in order. */
    from: z.array(tokenSource).min(1).default(['authorization']),
    /** Request headers set upstream from claims: `{ x-user-id: sub }`; a client's own are removed. */
    forward: z.record(z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/), z.string()).default({}),
    /** The claim that names the consumer (rate limits by `consumer`). */
    consumer: z.string().default('sub'),
    /** The realm of the WWW-Authenticate challenge (RFC 6750 §3). */
    realm: z.string().default('portcullis'),
  })
  .refine((j) => [j.secret, j.publicKey, j.jwks, j.keys].filter((k) => k !== undefined).length === 1, {
    message: 'needs exactly one of secret, publicKey, jwks or keys',
  })
  .superRefine((j, ctx) => {
    j.keys?.forEach((jwk, i) => {
      // A private or symmetric JWK in a gateway's configuration is a leak waiting to happen: refused, not skipped.
      if (jwk.d !== undefined || jwk.kty === 'oct')
        ctx.addIssue({
          code: 'custom',
          path: ['keys', i],
          message: 'must be a public key (no "d", not "oct")',
        })
      else if (keySet([jwk], j.algorithms).size === 0)
        ctx.addIssue({
          code: 'custom',
          path: ['keys', i],
          message: 'is not a usable public signing key for the allowed algorithms',
        })
    })
    const kids = (j.keys ?? []).map((k) => k.kid)
    if (kids.length > 1 && kids.some((k, i) => typeof k !== 'string' || kids.indexOf(k) !== i))
      ctx.addIssue({ code: 'custom', path: ['keys'], message: 'several keys need distinct "kid"s' })
    if (j.publicKey === undefined) return
    try {
      publicKeyFrom(j.publicKey, j.algorithms)
    } catch (err) {
      const message = (err as Error).message.replace(/^auth\.jwt: /, '')
      ctx.addIssue({ code: 'custom', path: ['publicKey'], message: `cannot read the key: ${message}` })
    }
  })

export type JwtConfig = z.output<typeof jwtSchema>
