/**
 * Turning a request path into file-name segments below the root, or a
 * refusal. This is the lexical half of path safety; `locate.ts` is the
 * file-system half (realpath, symlinks, the opened file).
 *
 * The path is percent-decoded exactly once, then split on `/`. So `%2e%2e`
 * and `..%2f` are the `..` they spell, and `%252e%252e` is the literal file
 * name `%2e%2e` (which is harmless: it names a file in the root). A decoded
 * segment that is `.` or `..`, contains a backslash or NUL, or (unless
 * dot-files are allowed) starts with `.`, refuses the request. Segments are
 * never normalised away: a client that sends `a/../b` gets a refusal, not
 * `b` — browsers remove dot segments before sending (RFC 3986 §5.2.4), so
 * only crafted requests carry them.
 */

/** What a request path turned into. */
export type ParsedPath =
  /** File-name segments below the root; `directory` when the path ended with `/`. */
  | { readonly kind: 'path'; readonly segments: readonly string[]; readonly directory: boolean }
  /** Invalid percent-encoding or UTF-8: answered 400. */
  | { readonly kind: 'malformed' }
  /** Traversal, NUL, backslash or a denied dot-file: answered 404, like a missing file. */
  | { readonly kind: 'refused' }

const MALFORMED: ParsedPath = Object.freeze({ kind: 'malformed' })
const REFUSED: ParsedPath = Object.freeze({ kind: 'refused' })

/**
 * parseRequestPath decodes `path` (the part of the request path below the
 * route, starting with `/` or empty) into segments. Empty segments (`a//b`)
 * are dropped, as nginx merges slashes. `allowDotfiles` lets segments start
 * with `.`; `.` and `..` themselves are refused regardless.
 */
export function parseRequestPath(path: string, allowDotfiles: boolean): ParsedPath {
  let decoded = path
  if (path.includes('%')) {
    try {
      // decodeURIComponent also refuses invalid UTF-8 such as the overlong `%c0%ae` ('.').
      decoded = decodeURIComponent(path)
    } catch {
      return MALFORMED
    }
  }
  // Backslash is a separator on Windows and for many tools; NUL truncates names in C APIs.
  if (decoded.includes('\\') || decoded.includes('\0')) return REFUSED
  const segments: string[] = []
  for (const segment of decoded.split('/')) {
    if (segment === '') continue
    if (segment.charCodeAt(0) === 0x2e /* . */) {
      if (segment === '.' || segment === '..' || !allowDotfiles) return REFUSED
    }
    segments.push(segment)
  }
  return { kind: 'path', segments, directory: decoded.endsWith('/') }
}

/**
 * belowPrefix returns the part of `path` below a route's `match.path`
 * `prefix` (`/assets/a.js` → `/a.js`, `/assets` → ``), or `path` unchanged
 * when it does not start with the prefix (a route matched some other way).
 * The router matches prefixes on segment boundaries, so no `/assetsX` case
 * reaches here from a prefix route.
 */
export function belowPrefix(path: string, prefix: string | undefined): string {
  if (prefix === undefined || prefix === '/' || !path.startsWith(prefix)) return path
  // A prefix ending in `/` keeps that slash in what remains (`/assets/` + `a.js` → `/a.js`).
  return prefix.endsWith('/') ? path.slice(prefix.length - 1) : path.slice(prefix.length)
}

/**
 * directoryLocation is the `Location` of the redirect from a directory
 * path without its trailing slash to the slash form (as nginx does), so
 * relative links in its index file resolve below it. Leading slashes are
 * collapsed: `//evil.example/x` must not become a scheme-relative URL.
 */
export function directoryLocation(path: string, query: string): string {
  let start = 0
  while (start + 1 < path.length && path.charCodeAt(start + 1) === 0x2f) start++
  const base = `${path.slice(start)}/`
  return query === '' ? base : `${base}?${query}`
}
