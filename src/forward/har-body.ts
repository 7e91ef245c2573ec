/**
 * Bodies in a HAR (http://www.softwareishard.com/blog/har-12-spec/): the
 * first bytes of a request or response body as they pass, and how they are
 * written: a response's `content` and a request's `postData`. Bounded: at
 * most `max` bytes are kept per body; a longer one is cut and says so in the
 * object's `comment`, with its size in full. Text (by media type) is written
 * as text; anything else base64.
 */
import { Transform } from 'node:stream'
import zlib from 'node:zlib'

/** A header of a HAR request or response. */
export interface HarHeader {
  name: string
  value: string
}

const TEXT_RE = /^text\/|[/+](json|xml|javascript|ecmascript)\b|^application\/x-www-form-urlencoded/i
const FORM_RE = /^application\/x-www-form-urlencoded\s*(;|$)/i
const MULTIPART_RE = /^multipart\//i
const DECODE: Record<string, (b: Buffer) => Buffer> = {
  gzip: zlib.gunzipSync,
  'x-gzip': zlib.gunzipSync,
  deflate: zlib.inflateSync,
  br: zlib.brotliDecompressSync,
}

/** BodyCapture keeps the first `max` bytes of a body and counts them all. */
export class BodyCapture {
  private readonly chunks: Buffer[] = []
  kept = 0
  size = 0
  /** Bytes that went by before the capture began (a request tap set late); 0 normally. */
  missed = 0
  private readonly max: number

  constructor(max: number) {
    this.max = max
  }

  /** add counts a slice and keeps a copy of what fits (the caller's buffer may be reused). */
  readonly add = (chunk: Buffer): void => {
    this.size += chunk.length
    if (this.kept >= this.max) return
    const part = chunk.length <= this.max - this.kept ? chunk : chunk.subarray(0, this.max - this.kept)
    this.chunks.push(Buffer.from(part))
    this.kept += part.length
  }

  get whole(): boolean {
    return this.kept === this.size && this.missed === 0
  }

  bytes(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
  }

  /** cutNote says how the body was cut; undefined when it is whole. */
  cutNote(): string | undefined {
    if (this.missed > 0) return `capture began after ${this.missed} bytes; ${this.kept} of ${this.size} kept`
    return this.kept === this.size ? undefined : `body cut at ${this.kept} of ${this.size} bytes`
  }
}

/** tapTransform passes a body through unchanged, adding it to `c` on the way. */
export function tapTransform(c: BodyCapture): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      c.add(chunk)
      done(null, chunk)
    },
  })
}

/** field is the first value of header `name` (lowercase) in a HAR header list. */
export function field(headers: readonly HarHeader[] | undefined, name: string): string | undefined {
  return headers?.find((h) => h.name.toLowerCase() === name)?.value
}

/** A captured body ready to be written: text, or base64 with a note on why. */
interface Rendered {
  /** Bytes of the body after its Content-Encoding was decoded (the captured size when it was not). */
  size: number
  text: string
  base64: boolean
  comment: string | undefined
}

/**
 * render decodes a captured body's Content-Encoding when it is whole and
 * known, and writes it as text when its media type is text (or, for
 * multipart, when it is UTF-8), else base64. A cut or unknown coding leaves
 * the bytes as sent, base64, and says so.
 */
function render(c: BodyCapture, mimeType: string, coding: string | undefined): Rendered {
  let body = c.bytes()
  const comment = c.cutNote()
  if (coding !== undefined && coding !== '' && coding !== 'identity') {
    const decode = Object.hasOwn(DECODE, coding) ? DECODE[coding] : undefined
    try {
      if (decode === undefined || !c.whole) throw new Error('not decodable')
      body = decode(body)
    } catch {
      return {
        size: c.size,
        text: body.toString('base64'),
        base64: true,
        comment: comment ?? `${coding} body`,
      }
    }
  }
  const size = c.whole ? body.length : c.size
  if (TEXT_RE.test(mimeType)) return { size, text: body.toString('utf8'), base64: false, comment }
  if (MULTIPART_RE.test(mimeType)) {
    try {
      // stream: a cut body may end inside a character (a fresh decoder: no state is left over).
      const text = new TextDecoder('utf-8', { fatal: true }).decode(body, { stream: !c.whole })
      return { size, text, base64: false, comment }
    } catch {
      // binary parts: base64 below
    }
  }
  return { size, text: body.toString('base64'), base64: true, comment }
}

/** responseContent: the HAR `content` of a response, with its captured text when there is one. */
export function responseContent(
  c: BodyCapture | undefined,
  headers: readonly HarHeader[] | undefined,
): object {
  const mimeType = field(headers, 'content-type') ?? ''
  if (c === undefined) return { size: -1, mimeType }
  const r = render(c, mimeType, field(headers, 'content-encoding')?.trim().toLowerCase())
  return {
    size: r.size,
    mimeType,
    text: r.text,
    ...(r.base64 && { encoding: 'base64' }),
    ...(r.comment !== undefined && { comment: r.comment }),
  }
}

/**
 * requestPostData: the HAR `postData` of a request body. HAR 1.2 has no
 * `encoding` for postData: a body that is not text is written base64,
 * marked `_encoding: 'base64'` and said so in `comment`. A whole
 * form-urlencoded body also has its `params` (as Chromium writes them,
 * beside `text`, which importers read).
 */
export function requestPostData(c: BodyCapture, headers: readonly HarHeader[]): object {
  const mimeType = field(headers, 'content-type') ?? ''
  const r = render(c, mimeType, field(headers, 'content-encoding')?.trim().toLowerCase())
  const notes = [r.comment, r.base64 ? 'text is base64' : undefined].filter((n) => n !== undefined)
  const params =
    !r.base64 && c.whole && FORM_RE.test(mimeType)
      ? [...new URLSearchParams(r.text)].map(([name, value]) => ({ name, value }))
      : undefined
  return {
    mimeType,
    ...(params !== undefined && { params }),
    text: r.text,
    ...(r.base64 && { _encoding: 'base64' }),
    ...(notes.length > 0 && { comment: notes.join('; ') }),
  }
}
