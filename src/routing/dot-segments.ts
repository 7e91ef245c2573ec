/**
 * Dot segments (`/a/../b`) are resolved before routing, so the route chosen
 * is the one for the path the upstream will act on. Otherwise
 * `/public/../admin` would match a `/public` route and reach `/admin` past
 * the conditions (`clients`, `headers`) of the `/admin` route: the origin
 * resolves the dots itself (RFC 3986 §5.2.4). Percent-encoded dots
 * (`%2e%2e`) count as dots, as many origins decode them before resolving.
 */

const DOT_SEGMENT_RE = /\/\.\.?(?:\/|$)/

/**
 * resolveDotSegments returns `target` with the dot segments of its path
 * removed (RFC 3986 §5.2.4; the query is left alone), or `target` itself,
 * unchanged and unallocated, when its path has none.
 */
export function resolveDotSegments(target: string): string {
  if (target.charCodeAt(0) !== 0x2f) return target
  let end = target.indexOf('?')
  if (end === -1) end = target.length
  const dot = target.indexOf('/.')
  const pct = target.indexOf('%')
  if ((dot === -1 || dot >= end) && (pct === -1 || pct >= end)) return target
  let path = target.slice(0, end)
  if (pct !== -1 && pct < end) path = path.replace(/%2e/gi, '.')
  if (!DOT_SEGMENT_RE.test(path)) return target
  const out: string[] = []
  const segments = path.split('/')
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!
    const last = i === segments.length - 1
    if (s === '.' || s === '..') {
      if (s === '..') out.pop()
      if (last) out.push('') // `/a/b/..` is the directory `/a/`
    } else out.push(s)
  }
  return `/${out.join('/')}${target.slice(end)}`
}
