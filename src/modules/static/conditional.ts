/**
 * Validators and conditional requests (RFC 9110 §8.8, §13).
 *
 * The ETag is strong and made of the size and the modification time in
 * milliseconds (`"1f4-18c2a3b4c5d"`), with the coding of a precompressed
 * representation appended (`"1f4-18c2a3b4c5d-br"`), so each representation
 * of one file validates separately. Strong, because byte ranges need a
 * strong validator (If-Range); a rewrite that keeps both the size and the
 * millisecond mtime is the accepted blind spot, as in nginx.
 */
import { trimOws } from '../../http1/fields.ts'

/** The validators of the representation being served. */
export interface Validators {
  /** The quoted strong entity-tag. */
  readonly etag: string
  /** Last-Modified in epoch ms, truncated to whole seconds (the precision of an HTTP-date). */
  readonly lastModified: number
}

/** validators builds the ETag and Last-Modified of a file of `size` bytes modified at `mtimeMs`. */
export function validators(size: number, mtimeMs: number, coding?: string): Validators {
  const mtime = Math.floor(mtimeMs)
  const tag = `${size.toString(16)}-${mtime.toString(16)}${coding === undefined ? '' : `-${coding}`}`
  return { etag: `"${tag}"`, lastModified: Math.floor(mtime / 1000) * 1000 }
}

/** The request header fields preconditions read (each list field joined with `, `). */
export interface ConditionalHeaders {
  ifMatch?: string | undefined
  ifNoneMatch?: string | undefined
  ifModifiedSince?: string | undefined
  ifUnmodifiedSince?: string | undefined
}

/** What the preconditions decided: go on (200 or 206), 304 Not Modified or 412 Precondition Failed. */
export type PreconditionOutcome = 'proceed' | 304 | 412

/**
 * evaluatePreconditions applies RFC 9110 §13.2.2's order to a representation
 * that exists:
 * 1. If-Match (strong comparison) false → 412;
 * 2. else If-Unmodified-Since earlier than Last-Modified → 412;
 * 3. If-None-Match (weak comparison) true → 304 for GET/HEAD, else 412;
 * 4. else, for GET/HEAD, If-Modified-Since not earlier than Last-Modified → 304.
 * A date that does not parse is ignored (§13.1.3, §13.1.4).
 */
export function evaluatePreconditions(
  method: string,
  h: ConditionalHeaders,
  v: Validators,
): PreconditionOutcome {
  if (h.ifMatch !== undefined) {
    if (!matchesAny(h.ifMatch, v.etag, true)) return 412
  } else if (h.ifUnmodifiedSince !== undefined) {
    const date = parseHttpDate(h.ifUnmodifiedSince)
    if (date !== undefined && v.lastModified > date) return 412
  }
  const safe = method === 'GET' || method === 'HEAD'
  if (h.ifNoneMatch !== undefined) {
    if (matchesAny(h.ifNoneMatch, v.etag, false)) return safe ? 304 : 412
  } else if (safe && h.ifModifiedSince !== undefined) {
    const date = parseHttpDate(h.ifModifiedSince)
    if (date !== undefined && v.lastModified <= date) return 304
  }
  return 'proceed'
}

/**
 * rangeStillValid evaluates If-Range (RFC 9110 §13.1.5): true when there is
 * none, or when it names the current representation — an entity-tag by
 * strong comparison, or a date equal to Last-Modified. When false the whole
 * representation is sent (200), not the ranges.
 */
export function rangeStillValid(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true
  const value = trimOws(ifRange)
  if (value.startsWith('"') || value.startsWith('W/')) return strongMatch(value, v.etag)
  const date = parseHttpDate(value)
  return date !== undefined && date === v.lastModified
}

/**
 * matchesAny tells whether an If-Match / If-None-Match field value (`*` or
 * a list of entity-tags) matches `etag`, by strong or weak comparison
 * (RFC 9110 §8.8.3.2). `*` matches any existing representation.
 */
export function matchesAny(field: string, etag: string, strong: boolean): boolean {
  if (trimOws(field) === '*') return true
  // An entity-tag may contain commas, so tags are scanned, not split.
  for (const m of field.matchAll(ENTITY_TAG)) {
    if (strong ? strongMatch(m[0], etag) : weakMatch(m[0], etag)) return true
  }
  return false
}

const ENTITY_TAG = /(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"/g

function strongMatch(a: string, b: string): boolean {
  return !a.startsWith('W/') && !b.startsWith('W/') && a === b
}

function weakMatch(a: string, b: string): boolean {
  return opaque(a) === opaque(b)
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag
}

/**
 * parseHttpDate reads an HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, and the
 * obsolete RFC 850 and asctime forms) into epoch ms, or undefined.
 */
export function parseHttpDate(text: string): number | undefined {
  const t = trimOws(text)
  let ms: number
  if (IMF_FIXDATE.test(t) || RFC850_DATE.test(t)) ms = Date.parse(t)
  else if (ASCTIME_DATE.test(t))
    ms = Date.parse(`${t} GMT`) // asctime has no zone and means GMT
  else return undefined
  return Number.isNaN(ms) ? undefined : ms
}

// Only the three forms, and only GMT: Date.parse alone would take local times and much else.
const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/
const RFC850_DATE = /^[A-Z][a-z]{5,8}, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/
const ASCTIME_DATE = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/

/** httpDate formats epoch ms as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`). */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString()
}
