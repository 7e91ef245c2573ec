/**
 * Keeping redirects where the configuration meant them to go. A redirect
 * whose target the request can steer to another site is an open redirect
 * (CWE-601): a link on our domain that lands on an attacker's. Two rules
 * close it: the host of an absolute `to` may come only from the
 * configuration or the request's own Host (which a link cannot set), never
 * from the path or query; and a rendered target never starts with `//` or
 * `/\` (which browsers read as another host) unless the configuration wrote
 * `//` itself.
 */

/** Placeholders that may appear before the path of an absolute target. */
const HOST_SAFE = new Set(['request.scheme', 'request.host', 'request.hostname'])
/** Placeholders that always start with `/`, so they begin the path. */
const PATH_START = new Set(['request.path', 'request.uri'])

/**
 * redirectTargetProblem returns why `to` would let a request choose the
 * redirect's host, or undefined when it cannot.
 */
export function redirectTargetProblem(to: string): string | undefined {
  if (to.startsWith('/') && !to.startsWith('//')) return undefined
  let literal = ''
  let last = 0
  for (const m of to.matchAll(/\{\{|\}\}|\{([^}]*)\}/g)) {
    literal += to.slice(last, m.index)
    last = m.index + m[0].length
    const name = m[1]
    if (name === undefined) {
      literal += m[0][0]
      continue
    }
    if (pathStarted(literal) || PATH_START.has(name)) return undefined
    if (!HOST_SAFE.has(name) && !name.startsWith('env.'))
      return `{${name}} comes before the path, so a request could choose the redirect's host; put a literal / before it`
    literal += 'h' // a host-like stand-in for the value
  }
  return undefined
}

/** pathStarted tells whether `literal` (an absolute URL's beginning) has reached its path, query or fragment. */
function pathStarted(literal: string): boolean {
  const scheme = literal.indexOf('://')
  const from = scheme !== -1 ? scheme + 3 : literal.startsWith('//') ? 2 : -1
  return from !== -1 && /[/?#\\]/.test(literal.slice(from))
}

/**
 * sameSiteGuard returns the function that fixes a rendered target: unless
 * `to` itself starts with `//`, leading slashes and backslashes collapse to
 * one `/`, so `/{params.rest}` with `rest` = `/evil.example` stays on this site.
 */
export function sameSiteGuard(to: string): (location: string) => string {
  if (to.startsWith('//')) return (location) => location
  return function collapseLeadingSlashes(location) {
    const c = location.charCodeAt(1)
    if (location.charCodeAt(0) !== 0x2f || (c !== 0x2f && c !== 0x5c)) return location
    return location.replace(/^[/\\]+/, '/')
  }
}
