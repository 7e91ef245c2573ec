/**
 * Route conditions beyond host, path and method: request header fields,
 * query parameters and the client's address. Each compiles to a predicate
 * over the Session; a route without them has none, and pays nothing.
 */
import type { ValueMatch } from '../config/route-schema.ts'
import type { Session } from '../core/session.ts'
import { trustList } from '../core/addresses.ts'

/** A compiled condition: true when the request satisfies it. */
export type Condition = (session: Session) => boolean

/** valueTest turns `value | { present } | { regex }` into a test over a field's values. */
function valueTest(spec: ValueMatch): (value: string | undefined) => boolean {
  if (typeof spec === 'string') return (v) => v === spec
  if (spec.regex !== undefined) {
    const re = new RegExp(spec.regex)
    return (v) => v !== undefined && re.test(v)
  }
  const wanted = spec.present !== false
  return (v) => (v !== undefined) === wanted
}

/**
 * headerCondition: the request has a field `name` (any case) one of whose
 * lines satisfies `spec`; `{ present: false }` requires that there is none.
 */
export function headerCondition(name: string, spec: ValueMatch): Condition {
  const lower = name.toLowerCase()
  const test = valueTest(spec)
  const absentOk = test(undefined)
  return function headerMatches(session) {
    const raw = session.head.rawHeaders
    let seen = false
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!
      if (n.length !== lower.length || n.toLowerCase() !== lower) continue
      seen = true
      if (test(raw[i + 1])) return true
    }
    return !seen && absentOk
  }
}

/**
 * queryCondition: the query string has a parameter `name` (after
 * percent-decoding, `+` as space, as in HTML forms) one of whose values
 * satisfies `spec`; `{ present: false }` requires that there is none.
 */
export function queryCondition(name: string, spec: ValueMatch): Condition {
  const test = valueTest(spec)
  const absentOk = test(undefined)
  return function queryMatches(session) {
    const q = session.query
    if (q === '') return absentOk
    const values = new URLSearchParams(q).getAll(name)
    if (values.length === 0) return absentOk
    for (const v of values) if (test(v)) return true
    return false
  }
}

/** clientCondition: the connecting peer's address is in one of the CIDRs (not X-Forwarded-For). */
export function clientCondition(cidrs: readonly string[]): Condition {
  const inList = trustList(cidrs)
  return function clientMatches(session) {
    return inList(session.clientAddress)
  }
}

/** compileConditions builds a route's header, query and client conditions; undefined when it has none. */
export function compileConditions(match: {
  headers?: Record<string, ValueMatch> | undefined
  query?: Record<string, ValueMatch> | undefined
  clients?: readonly string[] | undefined
}): Condition[] | undefined {
  const out: Condition[] = []
  for (const [name, spec] of Object.entries(match.headers ?? {})) out.push(headerCondition(name, spec))
  for (const [name, spec] of Object.entries(match.query ?? {})) out.push(queryCondition(name, spec))
  if (match.clients !== undefined) out.push(clientCondition(match.clients))
  return out.length === 0 ? undefined : out
}
