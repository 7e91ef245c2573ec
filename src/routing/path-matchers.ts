/**
 * The four ways a route matches a path: a prefix on segment boundaries
 * (`match.path`), an exact path (`match.exact`), a pattern with segment
 * parameters (`match.pattern: /users/:id/*rest`) and a regular expression
 * (`match.regex`). They test the request target in place, up to the end of
 * its path, so a query string never costs a copy; only captured parameters
 * allocate, and only for the route that won.
 */
import { checkRegex, parsePattern, regexGroups, type Segment } from '../config/path-patterns.ts'
import { NO_PARAMS } from '../core/session.ts'

// The syntax is the configuration's (validated at load); this file compiles it.
export { checkRegex, parsePattern, regexGroups }

/** A compiled path matcher. */
export interface PathMatcher {
  /** Characters of literal path the matcher requires; longer wins (router precedence). */
  readonly specificity: number
  /**
   * The first path segment every matching path has (`api` for `/api/v1`),
   * or undefined when it is dynamic; the router indexes routes by it.
   */
  readonly firstSegment: string | undefined
  /** Parameter names this matcher captures (empty for prefix and exact). */
  readonly paramNames: readonly string[]
  /** test tells whether the path `target.slice(0, pathEnd)` matches, without slicing. */
  test(target: string, pathEnd: number): boolean
  /** params returns the captured parameters of a path `test` accepted. */
  params(target: string, pathEnd: number): Record<string, string>
}

function noParams(): Record<string, string> {
  return NO_PARAMS as Record<string, string>
}

/** firstSegmentOf returns the first segment of a literal path when `complete`, else undefined. */
function firstSegmentOf(literal: string, complete: boolean): string | undefined {
  if (literal.charCodeAt(0) !== 0x2f) return undefined
  const slash = literal.indexOf('/', 1)
  if (slash !== -1) return literal.slice(1, slash)
  return complete ? literal.slice(1) : undefined
}

/**
 * prefixMatcher: `/v1` matches `/v1` and `/v1/x`, not `/v10`. A prefix
 * ending in `/` matches below it. `/` matches every path.
 */
export function prefixMatcher(prefix: string): PathMatcher {
  const trailing = prefix.endsWith('/')
  return {
    specificity: prefix === '/' ? 0 : prefix.length,
    firstSegment: prefix === '/' ? undefined : firstSegmentOf(prefix, true),
    paramNames: [],
    test(target, pathEnd) {
      const n = prefix.length
      if (pathEnd < n || !target.startsWith(prefix)) return false
      return pathEnd === n || trailing || target.charCodeAt(n) === 0x2f
    },
    params: noParams,
  }
}

/** exactMatcher matches one path exactly (the query is ignored). */
export function exactMatcher(path: string): PathMatcher {
  return {
    specificity: path.length,
    firstSegment: firstSegmentOf(path, true),
    paramNames: [],
    test: (target, pathEnd) => pathEnd === path.length && target.startsWith(path),
    params: noParams,
  }
}

/**
 * patternMatcher: `:name` matches one non-empty segment; a last segment
 * `*` (or `*name`) matches the rest of the path, possibly empty, so
 * `/files/*` matches `/files`, `/files/` and `/files/a/b`. Values are kept
 * as received (not percent-decoded).
 */
export function patternMatcher(pattern: string): PathMatcher {
  const parsed = parsePattern(pattern)
  if (typeof parsed === 'string') throw new Error(`invalid pattern ${pattern}: ${parsed}`)
  const segs = parsed
  let specificity = 0
  let literal = ''
  let dynamic = false
  for (const s of segs) {
    if (s.kind === 'literal') {
      specificity += s.text.length + 1
      if (!dynamic) literal += `/${s.text}`
    } else {
      if (s.kind === 'param') specificity += 1
      dynamic = true
    }
  }
  const complete = !dynamic || segs.length > 1
  return {
    specificity,
    firstSegment: segs[0]?.kind === 'literal' ? firstSegmentOf(literal, complete) : undefined,
    paramNames: segs.filter((s) => s.kind !== 'literal').map((s) => s.text),
    test: (target, pathEnd) => walkPattern(segs, target, pathEnd, undefined),
    params(target, pathEnd) {
      const out: Record<string, string> = {}
      walkPattern(segs, target, pathEnd, out)
      return out
    },
  }
}

/** walkPattern matches segments against the path; fills `out` with parameters when given. */
function walkPattern(
  segs: readonly Segment[],
  target: string,
  pathEnd: number,
  out: Record<string, string> | undefined,
): boolean {
  if (target.charCodeAt(0) !== 0x2f) return false
  let pos = 1 // start of the current segment
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!
    if (s.kind === 'wildcard') {
      if (out !== undefined) out[s.text] = pos > pathEnd ? '' : target.slice(pos, pathEnd)
      return true
    }
    if (pos > pathEnd) return false // the path has fewer segments
    let end = target.indexOf('/', pos)
    if (end === -1 || end > pathEnd) end = pathEnd
    if (s.kind === 'literal') {
      if (end - pos !== s.text.length || !target.startsWith(s.text, pos)) return false
    } else {
      if (end === pos) return false
      if (out !== undefined) out[s.text] = target.slice(pos, end)
    }
    pos = end + 1
  }
  return pos > pathEnd // every path segment consumed
}

/**
 * regexMatcher tests the path (query excluded). Its capture groups become
 * parameters: numbered (`1`, `2` …) and named (`(?<id>…)`). Its precedence
 * is its anchored literal prefix: `^/v1/` counts 4, an unanchored regex 0.
 */
export function regexMatcher(source: string): PathMatcher {
  const re = new RegExp(source)
  const { literal, complete } = literalPrefix(source)
  const names = regexGroups(re)
  const pathOf = (target: string, pathEnd: number) =>
    pathEnd === target.length ? target : target.slice(0, pathEnd)
  return {
    specificity: literal.length,
    firstSegment: firstSegmentOf(literal, complete),
    paramNames: names,
    test: (target, pathEnd) => re.test(pathOf(target, pathEnd)),
    params(target, pathEnd) {
      const m = re.exec(pathOf(target, pathEnd))
      if (m === null || names.length === 0) return noParams()
      const out: Record<string, string> = {}
      for (let i = 1; i < m.length; i++) out[String(i)] = m[i] ?? ''
      if (m.groups !== undefined) for (const [k, v] of Object.entries(m.groups)) out[k] = v ?? ''
      return out
    },
  }
}

const REGEX_META = new Set(['\\', '^', '$', '.', '|', '?', '*', '+', '(', ')', '[', ']', '{', '}'])

/**
 * literalPrefix reads the literal text an anchored regex starts with:
 * `^/v1/(.*)` → `/v1/`. `complete` says the regex ends right after it
 * (`^/health$`). A literal followed by a quantifier loses its last character.
 */
export function literalPrefix(source: string): { literal: string; complete: boolean } {
  if (!source.startsWith('^') || hasTopLevelAlternation(source)) return { literal: '', complete: false }
  let literal = ''
  let i = 1
  while (i < source.length) {
    const c = source[i]!
    if (c === '\\' && i + 1 < source.length && /[/\-.]/.test(source[i + 1]!)) {
      literal += source[i + 1]
      i += 2
      continue
    }
    if (REGEX_META.has(c)) break
    literal += c
    i++
  }
  const next = source[i]
  if (next === '?' || next === '*' || next === '{') literal = literal.slice(0, -1)
  return { literal, complete: next === '$' && i === source.length - 1 }
}

/** hasTopLevelAlternation tells whether `a|b` splits the whole regex (then no prefix is certain). */
function hasTopLevelAlternation(source: string): boolean {
  let depth = 0
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]
    if (c === '\\') i++
    else if (inClass) inClass = c !== ']'
    else if (c === '[') inClass = true
    else if (c === '(') depth++
    else if (c === ')') depth--
    else if (c === '|' && depth === 0) return true
  }
  return false
}
