/**
 * A remote JWK Set (RFC 7517 §5), cached: keys by `kid`, fetched when the
 * route is compiled, again in the background once `refresh` has passed (the
 * request that notices serves with the keys it has), and at once for an
 * unknown `kid` (key rotation) but at most once per `cooldown`, so tokens
 * with made-up kids cannot make the gateway hammer the JWKS server. Every
 * fetch ends within `timeout`: an unreachable or hanging JWKS server never
 * holds a request longer. A failed fetch keeps the keys already known.
 *
 * No timer runs: a reloaded configuration's old cache is simply dropped.
 */
import diagnostics from 'node:diagnostics_channel'
import { keySet, lookupKey, type VerificationKey } from '../../config/jwt-keys.ts'
import type { JwtAlgorithm } from '../../config/modules/jwt.ts'

/** Published when a JWKS fetch fails (the old keys stay in use). */
export interface JwksErrorMessage {
  url: string
  error: unknown
}

export const jwksErrorChannel = diagnostics.channel('portcullis:jwt:jwks-error')

/** At most this many keys are kept from one set. */
const MAX_KEYS = 64

/** Options of a JwksCache, durations in ms. */
export interface JwksOptions {
  url: string
  timeout: number
  refresh: number
  cooldown: number
}

/** What `key` found: a key, none for that kid, or no key set at all (never fetched successfully). */
export type JwksLookup = VerificationKey | 'unknown-kid' | 'unavailable'

export class JwksCache {
  readonly #options: JwksOptions
  readonly #algorithms: readonly JwtAlgorithm[] | undefined
  #keys: Map<string, VerificationKey> | undefined
  #fetching: Promise<void> | undefined
  #lastFetch = -Infinity
  #lastSuccess = -Infinity

  constructor(options: JwksOptions, algorithms?: readonly JwtAlgorithm[]) {
    this.#options = options
    this.#algorithms = algorithms
    void this.#fetch()
  }

  /** key finds the key for `kid` (undefined: the set's only key), fetching as described above. */
  async key(kid: string | undefined): Promise<JwksLookup> {
    const now = performance.now()
    if (this.#keys === undefined) await this.#fetch()
    else if (
      now - this.#lastSuccess >= this.#options.refresh &&
      now - this.#lastFetch >= this.#options.cooldown
    )
      void this.#fetch() // background: this request uses the keys we have
    let found = this.#lookup(kid)
    if (found === undefined && this.#keys !== undefined && now - this.#lastFetch >= this.#options.cooldown) {
      await this.#fetch() // rotation: a new kid may be in the set now
      found = this.#lookup(kid)
    }
    if (found !== undefined) return found
    return this.#keys === undefined ? 'unavailable' : 'unknown-kid'
  }

  #lookup(kid: string | undefined): VerificationKey | undefined {
    return this.#keys === undefined ? undefined : lookupKey(this.#keys, kid)
  }

  /** #fetch loads the set once at a time; concurrent callers share the fetch. */
  #fetch(): Promise<void> {
    this.#fetching ??= this.#load().finally(() => {
      this.#fetching = undefined
    })
    return this.#fetching
  }

  async #load(): Promise<void> {
    this.#lastFetch = performance.now()
    const { url, timeout } = this.#options
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeout), redirect: 'error' })
      if (!res.ok) throw new Error(`JWKS ${url} answered ${res.status}`)
      const body = (await res.json()) as { keys?: unknown }
      if (!Array.isArray(body.keys)) throw new Error(`JWKS ${url}: no keys array`)
      this.#keys = keySet(body.keys, this.#algorithms, MAX_KEYS)
      this.#lastSuccess = performance.now()
    } catch (error) {
      if (jwksErrorChannel.hasSubscribers) jwksErrorChannel.publish({ url, error } satisfies JwksErrorMessage)
    }
  }
}
