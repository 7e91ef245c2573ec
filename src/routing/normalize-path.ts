/**
 * The request path is normalised once, before the first hook and before
 * routing, and the normalised target is what hooks see, what routes match
 * and what goes upstream. Otherwise a path the router reads one way reaches
 * an origin that reads it another: `/%61dmin`, `//admin` and `/x/..%2fadmin`
 * all skipped a `/admin` route that answered 403, and the origin (Express
 * decodes `%61`, resolves `..`) served `/admin`. nginx's `location` matching
 * normalises the same way.
 *
 * Steps, on the path only (the query is left alone):
 * 1. Percent-decoding of unreserved characters (RFC 3986 §6.2.2.2: `%61` is
 *    `a`, `%2E` is `.`); other escapes are kept, with uppercase hex
 *    (§6.2.2.1). A malformed escape (`%zz`) or `%00` is refused.
 * 2. An encoded slash or backslash (`%2F`, `%5C`) and a raw `\`: refused
 *    (`encodedSlashes: reject`, the default) or decoded to `/`
 *    (`decode`). Keeping them encoded is not offered: origins disagree on
 *    whether `%2F` separates segments, which is the bypass itself.
 * 3. Repeated slashes merged (`mergeSlashes`, on by default like nginx's
 *    merge_slashes).
 * 4. Dot segments removed (RFC 3986 §5.2.4).
 */
import { GatewayError } from '../core/errors.ts'

/** How request paths are normalised (config `paths`). */
export interface PathOptions {
  /** Merge `//` into `/`. */
  readonly mergeSlashes: boolean
  /** What to do with `%2F`, `%5C` and `\` in a path. */
  readonly encodedSlashes: 'reject' | 'decode'
}

/**
 * normalizeTarget returns the normalised request target, `target` itself
 * (not copied) when it is already normal, or a 400 GatewayError. Targets
 * that are not paths (`*`, a CONNECT authority) are returned unchanged.
 */
export function normalizeTarget(target: string, options: PathOptions): string | GatewayError {
  if (target.charCodeAt(0) !== 0x2f) return target
  let end = target.indexOf('?')
  if (end === -1) end = target.length
  if (isNormal(target, end, options.mergeSlashes)) return target
  const path = decodePath(target, end, options)
  if (typeof path !== 'string') return path
  const merged = options.mergeSlashes ? path.replace(REPEATED_SLASHES, '/') : path
  const resolved = DOT_SEGMENT_RE.test(merged) ? removeDotSegments(merged) : merged
  return end === target.length ? resolved : resolved + target.slice(end)
}

const REPEATED_SLASHES = /\/{2,}/g
const DOT_SEGMENT_RE = /\/\.\.?(?:\/|$)/

/**
 * isNormal is the fast path: one pass over the path looking for anything
 * that could change it (`%`, `\`, `//`, `/.`). Most paths have none.
 */
function isNormal(target: string, end: number, mergeSlashes: boolean): boolean {
  for (let i = 0; i < end; i++) {
    const c = target.charCodeAt(i)
    if (c === 0x25 /* % */ || c === 0x5c /* \ */) return false
    if (c === 0x2f /* / */ && i + 1 < end) {
      const next = target.charCodeAt(i + 1)
      if (next === 0x2e /* . */ || (next === 0x2f && mergeSlashes)) return false
    }
  }
  return true
}

/** decodePath applies steps 1 and 2 to `target[0, end)`. */
function decodePath(target: string, end: number, options: PathOptions): string | GatewayError {
  let out = ''
  let run = 0
  for (let i = 0; i < end; i++) {
    const c = target.charCodeAt(i)
    if (c !== 0x25 && c !== 0x5c) continue
    out += target.slice(run, i)
    if (c === 0x5c) {
      if (options.encodedSlashes === 'reject') return refused('backslash in path')
      out += '/'
      run = i + 1
      continue
    }
    const byte = hexByte(target, i + 1, end)
    if (byte < 0) return refused('malformed percent-encoding in path')
    if (byte === 0) return refused('encoded NUL in path')
    if (byte === 0x2f || byte === 0x5c) {
      if (options.encodedSlashes === 'reject') return refused('encoded slash or backslash in path')
      out += '/'
    } else if (isUnreserved(byte)) out += String.fromCharCode(byte)
    else out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`
    i += 2
    run = i + 1
  }
  return out + target.slice(run, end)
}

const HEX = '0123456789ABCDEF'

/** hexByte reads two hex digits at `s[i]`, or returns -1. */
function hexByte(s: string, i: number, end: number): number {
  if (i + 2 > end) return -1
  const hi = hexDigit(s.charCodeAt(i))
  const lo = hexDigit(s.charCodeAt(i + 1))
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1
}

/** RFC 3986 §2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(c: number): boolean {
  const l = c | 0x20
  return (
    (l >= 0x61 && l <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x7e
  )
}

function refused(why: string): GatewayError {
  return new GatewayError('MALFORMED_REQUEST', why)
}

/**
 * removeDotSegments resolves `.` and `..` (RFC 3986 §5.2.4) in a path that
 * starts with `/`; `..` never climbs above the root, and a trailing dot
 * segment leaves a directory (`/a/b/..` is `/a/`).
 */
export function removeDotSegments(path: string): string {
  const out: string[] = []
  const segments = path.split('/')
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!
    const last = i === segments.length - 1
    if (s === '.' || s === '..') {
      if (s === '..') out.pop()
      if (last) out.push('')
    } else out.push(s)
  }
  return `/${out.join('/')}`
}
