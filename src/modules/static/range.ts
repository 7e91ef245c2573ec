/**
 * Byte ranges (RFC 9110 §14): parsing a Range field against a
 * representation's size, and the multipart/byteranges body (§14.6) that
 * answers more than one range, streamed part by part from one open file.
 *
 * Policy, where the RFC leaves a choice (§14.2 allows ignoring any Range):
 * - a field that does not parse, or uses a unit other than `bytes`, is
 *   ignored (200 with the whole representation);
 * - more than MAX_RANGES ranges, or ranges that overlap, are ignored too
 *   (200): they are how range requests are made to amplify (CVE-2011-3192),
 *   and a whole file is always a correct answer;
 * - ranges that start past the end are dropped; when none is left, 416 with
 *   `Content-Range: bytes *\/SIZE`;
 * - a zero-length representation ignores ranges (200, empty): no range of
 *   it can be expressed in a Content-Range.
 */
import { randomBytes } from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { trimOws } from '../../http1/fields.ts'

/** The most ranges one request may ask for before its Range field is ignored. */
export const MAX_RANGES = 16

/** An inclusive byte range `start`–`end` of a representation. */
export interface ByteRange {
  readonly start: number
  readonly end: number
}

/** What a Range field asks of a representation. */
export type RangeRequest =
  | { readonly kind: 'whole' }
  | { readonly kind: 'unsatisfiable' }
  | { readonly kind: 'ranges'; readonly ranges: readonly ByteRange[] }

const WHOLE: RangeRequest = Object.freeze({ kind: 'whole' })
const UNSATISFIABLE: RangeRequest = Object.freeze({ kind: 'unsatisfiable' })

const SPEC = /^(?:(\d+)-(\d*)|-(\d+))$/

/**
 * parseRange reads a Range field (`bytes=0-99`, `bytes=500-`, `bytes=-200`,
 * or a comma-separated list of them) for a representation of `size` bytes.
 * Ranges keep the order the client asked for; ends past the last byte are
 * clamped to it.
 */
export function parseRange(field: string, size: number): RangeRequest {
  const eq = field.indexOf('=')
  if (eq === -1 || trimOws(field.slice(0, eq)).toLowerCase() !== 'bytes') return WHOLE
  if (size === 0) return WHOLE
  const ranges: ByteRange[] = []
  let specs = 0
  for (const element of field.slice(eq + 1).split(',')) {
    const spec = trimOws(element)
    if (spec === '') continue // RFC 9110 §5.6.1: empty list elements are allowed
    if (++specs > MAX_RANGES) return WHOLE
    const m = SPEC.exec(spec)
    if (m === null) return WHOLE
    if (m[3] !== undefined) {
      // suffix-range: the last N bytes (§14.1.3); `-0` is unsatisfiable.
      const n = Number(m[3])
      if (n > 0) ranges.push({ start: Math.max(0, size - n), end: size - 1 })
      continue
    }
    const start = Number(m[1])
    const last = m[2] === '' ? Number.POSITIVE_INFINITY : Number(m[2])
    if (last < start) return WHOLE // an invalid range-spec makes the field invalid (§14.1.1)
    if (start < size) ranges.push({ start, end: Math.min(last, size - 1) })
  }
  if (specs === 0) return WHOLE
  if (ranges.length === 0) return UNSATISFIABLE
  return overlapping(ranges) ? WHOLE : { kind: 'ranges', ranges }
}

function overlapping(ranges: readonly ByteRange[]): boolean {
  if (ranges.length < 2) return false
  const sorted = [...ranges].sort((a, b) => a.start - b.start)
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.start <= sorted[i - 1]!.end) return true
  return false
}

/** contentRange is the Content-Range of one range of a `size`-byte representation. */
export function contentRange(r: ByteRange, size: number): string {
  return `bytes ${r.start}-${r.end}/${size}`
}

/** A multipart/byteranges body ready to stream. */
export interface MultipartBody {
  /** The response's Content-Type, with the boundary. */
  readonly contentType: string
  /** The exact body length, for Content-Length. */
  readonly length: number
  /** The body; destroying it (or reaching its end) closes `handle`. */
  readonly stream: Readable
}

/**
 * multipartBody builds the §14.6 body for `ranges` of the file open as
 * `handle` (which the body then owns): each part is a delimiter, its Content-Type and Content-Range,
 * and its bytes, read from the file only when the client is ready for them.
 */
export function multipartBody(
  handle: FileHandle,
  ranges: readonly ByteRange[],
  size: number,
  type: string,
): MultipartBody {
  const boundary = randomBytes(12).toString('hex')
  const heads = ranges.map((r, i) =>
    Buffer.from(
      `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\n` +
        `Content-Range: ${contentRange(r, size)}\r\n\r\n`,
      'latin1',
    ),
  )
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1')
  let length = tail.length
  for (let i = 0; i < ranges.length; i++) length += heads[i]!.length + ranges[i]!.end - ranges[i]!.start + 1
  const stream = Readable.from(parts(handle, ranges, heads, tail), { objectMode: false })
  // On 'close', not in the generator: a generator destroyed before its first
  // read never enters its body, so a `finally` there would never run.
  stream.once('close', function closeFile() {
    handle.close().catch(() => {})
  })
  return { contentType: `multipart/byteranges; boundary=${boundary}`, length, stream }
}

/** parts yields the body piece by piece; Readable.from pulls only as fast as the client reads. */
async function* parts(
  handle: FileHandle,
  ranges: readonly ByteRange[],
  heads: readonly Buffer[],
  tail: Buffer,
): AsyncGenerator<Buffer> {
  for (let i = 0; i < ranges.length; i++) {
    yield heads[i]!
    const r = ranges[i]!
    yield* handle.createReadStream({ start: r.start, end: r.end, autoClose: false })
  }
  yield tail
}
