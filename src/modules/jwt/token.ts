/**
 * Where a bearer token is read from: the Authorization header's Bearer
 * credentials (RFC 6750 §2.1), a cookie (§2 leaves other methods to the
 * deployment), a query parameter (§2.3, discouraged: it lands in logs) or
 * another header. The first source that has one wins.
 */
import type { Session } from '../../core/session.ts'

/** Reads a token from a session, or undefined. */
export type TokenSource = (session: Session) => string | undefined

/** compileSources turns `from` entries (validated by schema.ts) into readers. */
export function compileSources(from: readonly string[]): TokenSource {
  const sources = from.map(source)
  if (sources.length === 1) return sources[0]!
  return function firstToken(session) {
    for (const s of sources) {
      const t = s(session)
      if (t !== undefined) return t
    }
    return undefined
  }
}

function source(entry: string): TokenSource {
  if (entry === 'authorization') return bearer
  const colon = entry.indexOf(':')
  const kind = entry.slice(0, colon)
  const name = entry.slice(colon + 1)
  if (kind === 'cookie') return (s) => cookie(s.header('cookie'), name)
  if (kind === 'query') return (s) => queryParam(s.query, name)
  return (s) => s.header(name) || undefined
}

/** bearer reads `Authorization: Bearer TOKEN`; the scheme is case-insensitive (RFC 9110 §11.1). */
export function bearer(session: Session): string | undefined {
  const v = session.header('authorization')
  if (v === undefined || v.length < 8 || v.slice(0, 7).toLowerCase() !== 'bearer ') return undefined
  const t = v.slice(7).trim()
  return t === '' ? undefined : t
}

/** cookie returns the value of cookie `name` in a Cookie header (RFC 6265 §4.2.1). */
export function cookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq !== -1 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim() || undefined
  }
  return undefined
}

function queryParam(query: string, name: string): string | undefined {
  if (query === '') return undefined
  return new URLSearchParams(query).get(name) || undefined
}
