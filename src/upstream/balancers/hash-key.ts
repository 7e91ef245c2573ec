/**
 * The key consistent hashing places a request by, hashed straight from the
 * request head: `header:NAME`, `cookie:NAME`, `query:NAME`, `path` or
 * `client.ip`. Values are hashed where they lie in the head's strings (no
 * substring, no split), so reading a key allocates nothing.
 */
import type { Session } from '../../core/session.ts'

/** Returns the key's 32-bit hash, or -1 when the request carries no such key. */
export type HashKey = (session: Session) => number

/** compileHashKey turns a validated `hash.key` (see config/balance-schema.ts) into a reader. */
export function compileHashKey(spec: string): HashKey {
  if (spec === 'path') return hashPath
  if (spec === 'client.ip') return hashClient
  const colon = spec.indexOf(':')
  const kind = spec.slice(0, colon)
  const name = spec.slice(colon + 1)
  if (kind === 'header') return headerKey(name.toLowerCase())
  if (kind === 'cookie') return cookieKey(name)
  return queryKey(name)
}

/**
 * hashString is FNV-1a over UTF-16 code units of `s[start, end)`, finished
 * with murmur3's fmix32 so that keys differing in one character land far
 * apart on the ring. Always a non-negative 32-bit integer.
 */
export function hashString(s: string, start = 0, end = s.length): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return fmix32(h)
}

/** fmix32 is murmur3's finaliser: a bijection on 32-bit integers that spreads every input bit. */
export function fmix32(x: number): number {
  let h = x
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

function hashPath(s: Session): number {
  const t = s.head.target
  const q = t.indexOf('?')
  return hashString(t, 0, q === -1 ? t.length : q)
}

function hashClient(s: Session): number {
  const a = s.clientAddress
  // The IPv4-mapped form a dual-stack socket reports is the same client as the plain one.
  return hashString(a, a.startsWith('::ffff:') && a.includes('.') ? 7 : 0)
}

/** The first field named `lower` (lowercase), as rawHeaders holds them: [name, value, …]. */
function headerKey(lower: string): HashKey {
  return function hashHeader(s) {
    const raw = s.head.rawHeaders
    for (let i = 0; i < raw.length; i += 2) {
      if (sameLower(raw[i]!, lower)) return hashString(raw[i + 1]!)
    }
    return -1
  }
}

/** sameLower compares a field name with a lowercase one, ignoring ASCII case, without a lowercased copy. */
function sameLower(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== lower.charCodeAt(i)) return false
  }
  return true
}

/** A cookie's value from the Cookie fields (RFC 6265 §4.2.1: `name=value` pairs separated by `; `). */
function cookieKey(name: string): HashKey {
  return function hashCookie(s) {
    const raw = s.head.rawHeaders
    for (let i = 0; i < raw.length; i += 2) {
      if (!sameLower(raw[i]!, 'cookie')) continue
      const h = hashPair(raw[i + 1]!, 0, name, ';')
      if (h !== -1) return h
    }
    return -1
  }
}

/** A query parameter's raw (still percent-encoded) value: the first `name=` after `?` or `&`. */
function queryKey(name: string): HashKey {
  return function hashQuery(s) {
    const t = s.head.target
    const q = t.indexOf('?')
    return q === -1 ? -1 : hashPair(t, q + 1, name, '&')
  }
}

/** hashPair hashes the value of the first `name=value` in `text` from `from`, pairs separated by `sep`. */
function hashPair(text: string, from: number, name: string, sep: string): number {
  let i = from
  while (i < text.length) {
    while (text.charCodeAt(i) === 0x20) i++ // the space after a cookie's `;`
    let end = text.indexOf(sep, i)
    if (end === -1) end = text.length
    if (end - i > name.length && text.charCodeAt(i + name.length) === 0x3d && text.startsWith(name, i))
      return hashString(text, i + name.length + 1, end)
    i = end + 1
  }
  return -1
}
