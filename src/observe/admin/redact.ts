/**
 * redactConfig returns a copy of a configuration fit to show an operator:
 * every value under a key that names a secret (tokens, JWT secrets,
 * passwords, password and key hashes, credential-bearing header values) is
 * replaced by "[redacted]", and the password of any URL with credentials
 * (redis://:PASSWORD@host, an upstream proxy's user:PASSWORD@) is too. File
 * paths (TLS keys, public keys) are not secrets and stay.
 */

export const REDACTED = '[redacted]'

/** Keys whose whole value is secret, wherever they appear. */
const SECRET_KEYS = new Set([
  'token',
  'tokens',
  'secret',
  'password',
  'passphrase',
  'hash',
  'users', // auth.basic: user → password hash
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
])

export function redactConfig(value: unknown): unknown {
  return redact(value, undefined)
}

function redact(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && SECRET_KEYS.has(key.toLowerCase()) && value !== undefined && value !== null)
    return REDACTED
  if (typeof value === 'string') return redactUrl(value)
  if (Array.isArray(value)) return value.map((v) => redact(v, undefined))
  if (value instanceof Set) return [...value].map((v) => redact(v, undefined))
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = redact(v, k)
    return out
  }
  return value
}

/** redactUrl hides the password of a URL with userinfo; other strings are returned as they are. */
export function redactUrl(s: string): string {
  if (!s.includes('@') || !s.includes('://')) return s
  try {
    const u = new URL(s)
    if (u.password === '') return s
    u.password = 'redacted'
    return u.toString()
  } catch {
    return s
  }
}
