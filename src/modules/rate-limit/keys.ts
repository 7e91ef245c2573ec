/**
 * What a limit counts per: the parts of `key` read from a request. A part
 * that is missing (no such header, no consumer, no claim) reads as `-`, so
 * every request without it shares one counter: a limit keyed on an optional
 * header still limits the requests that leave it out.
 */
import { createHash } from 'node:crypto'
import type { Session } from '../../core/session.ts'
import { realClientAddress, type TrustCheck } from '../client-address.ts'

/** Reads one part of a key from a session. */
export type KeyPart = (session: Session) => string

/** compileKey turns `key` parts (validated by schema.ts) into one reader. */
export function compileKey(parts: readonly string[], trusts: TrustCheck): KeyPart {
  const readers = parts.map((p) => keyPart(p, trusts))
  if (readers.length === 1) return readers[0]!
  return function combinedKey(session) {
    let out = readers[0]!(session)
    for (let i = 1; i < readers.length; i++) out += `|${readers[i]!(session)}`
    return out
  }
}

function keyPart(part: string, trusts: TrustCheck): KeyPart {
  if (part === 'client.ip') return (s) => realClientAddress(s, trusts)
  if (part === 'route') return (s) => s.route?.name ?? '-'
  if (part === 'consumer') return (s) => s.consumer ?? '-'
  if (part.startsWith('header:')) {
    const name = part.slice(7)
    return (s) => s.header(name) ?? '-'
  }
  const claim = part.slice(4) // jwt.CLAIM
  return function jwtClaim(s) {
    const v = s.claims?.[claim]
    return v === undefined || v === null ? '-' : typeof v === 'string' ? v : JSON.stringify(v)
  }
}

/**
 * storeKey is the store key of one counter. Values a client chose (header
 * values) can be long or contain anything: past 64 characters they are
 * hashed, so a key stays short and a client cannot grow the store's keys.
 */
export function storeKey(limit: string, value: string): string {
  const v = value.length > 64 ? createHash('sha256').update(value).digest('base64url') : value
  return `rl:${limit}:${v}`
}
