/**
 * The syntax of route path conditions: `match.pattern` (`/users/:id/*rest`)
 * and `match.regex`. Configuration validates it at load; routing
 * (routing/path-matchers.ts) compiles it into matchers. Here, below both, so
 * that config does not import routing (which imports config).
 */

const PARAM_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/

/** One segment of a pattern: literal text, a `:name` parameter, or a trailing `*name` wildcard. */
export interface Segment {
  readonly kind: 'literal' | 'param' | 'wildcard'
  /** The literal text, or the parameter name (`*` for an unnamed wildcard). */
  readonly text: string
}

/**
 * parsePattern reads `/users/:id/files/*path`. Returns the segments or a
 * message saying what is wrong.
 */
export function parsePattern(pattern: string): Segment[] | string {
  if (!pattern.startsWith('/')) return 'must start with /'
  const parts = pattern.slice(1).split('/')
  const segments: Segment[] = []
  const seen = new Set<string>()
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!
    if (p.startsWith(':') || p.startsWith('*')) {
      const wildcard = p.startsWith('*')
      const name = wildcard && p === '*' ? '*' : p.slice(1)
      if (wildcard && i !== parts.length - 1) return `'${p}': a * wildcard may only be the last segment`
      if (name !== '*' && !PARAM_NAME_RE.test(name))
        return `'${p}': parameter names use letters, digits and _ and do not start with a digit`
      if (seen.has(name)) return `parameter '${name}' appears twice`
      seen.add(name)
      segments.push({ kind: wildcard ? 'wildcard' : 'param', text: name })
    } else {
      if (p.includes('*')) return `'${p}': * is only allowed as a whole last segment (/files/*)`
      segments.push({ kind: 'literal', text: p })
    }
  }
  return segments
}

/** checkRegex returns the RegExp or a message saying why it is invalid. */
export function checkRegex(source: string): RegExp | string {
  try {
    return new RegExp(source)
  } catch (err) {
    return (err as Error).message.replace(/^Invalid regular expression: /, '')
  }
}

/** regexGroups lists a regex's capture groups as parameter names: named groups and `1`, `2` … */
export function regexGroups(re: RegExp): string[] {
  const count = (new RegExp(`${re.source}|`).exec('')?.length ?? 1) - 1
  const names = Array.from({ length: count }, (_, i) => String(i + 1))
  const named = re.source.matchAll(/\(\?<([A-Za-z_$][\w$]*)>/g)
  for (const m of named) names.push(m[1]!)
  return names
}
