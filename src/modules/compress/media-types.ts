/**
 * Matching a response's Content-Type against the configured `types` list.
 * Patterns are `type/subtype`, `type/*`, `type/*+suffix` (RFC 6838 §4.2.8
 * structured syntax suffixes: `application/*+json` covers `problem+json`,
 * `ld+json`, …) and `*` for the type.
 */
import { trimOws } from '../../http1/fields.ts'

/**
 * Server-sent events are matched only by their own name, never by a
 * wildcard: a compressor holds bytes back until its window fills, which
 * would delay events indefinitely. Listed by name, they are compressed with
 * a flush after every chunk (see encoders.ts).
 */
export const EVENT_STREAM = 'text/event-stream'

/** TypeMatcher answers "is this media type in the list?" without allocating per call. */
export class TypeMatcher {
  private readonly exact = new Set<string>()
  /** Types whose every subtype matches (`text/*`); `*` means any type. */
  private readonly anySubtype = new Set<string>()
  /** `[type, +suffix]` pairs; type may be `*`. */
  private readonly suffixes: (readonly [string, string])[] = []

  /** `patterns` must be lower-case and valid (the schema checks both). */
  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      const slash = p.indexOf('/')
      const type = p.slice(0, slash)
      const sub = p.slice(slash + 1)
      if (sub === '*') this.anySubtype.add(type)
      else if (sub.startsWith('*+')) this.suffixes.push([type, sub.slice(1)])
      else this.exact.add(p)
    }
  }

  /** matches takes a media type as `mediaType` returns it. */
  matches(essence: string): boolean {
    if (this.exact.has(essence)) return true
    if (essence === EVENT_STREAM) return false
    const slash = essence.indexOf('/')
    if (slash <= 0) return false
    const type = essence.slice(0, slash)
    if (this.anySubtype.has(type) || this.anySubtype.has('*')) return true
    for (const [t, suffix] of this.suffixes) {
      if ((t === type || t === '*') && essence.endsWith(suffix) && essence.length > slash + 1 + suffix.length)
        return true
    }
    return false
  }
}

/**
 * mediaType returns the lower-cased `type/subtype` of a Content-Type field
 * value, without parameters (RFC 9110 §8.3.1); '' when there is none.
 */
export function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return ''
  const semi = contentType.indexOf(';')
  const essence = trimOws(semi === -1 ? contentType : contentType.slice(0, semi))
  return essence.toLowerCase()
}
