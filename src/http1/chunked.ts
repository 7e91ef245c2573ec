/**
 * An incremental, strict decoder for the chunked transfer coding
 * (RFC 9112 §7.1). It hands each data slice to a sink without copying and
 * keeps no buffer of its own except a bounded trailer section. Any framing
 * error throws: a chunked body we cannot delimit exactly must never be
 * forwarded, because the upstream could delimit it differently.
 */
import { type ErrorCode, GatewayError } from '../core/errors.ts'
import { Fields, parseFieldLines } from './fields.ts'

/** Receives decoded body bytes. */
export interface ChunkSink {
  chunkData(data: Buffer): void
}

const SIZE = 0
const SIZE_MORE = 1
const EXT = 2
const SIZE_LF = 3
const DATA = 4
const DATA_CR = 5
const DATA_LF = 6
const TRAILER = 7
const TRAILER_LF = 8
const DONE = 9

/** Longest chunk-size: 13 hex digits (2^52) keeps the arithmetic exact. */
const MAX_SIZE_DIGITS = 13
/** Chunk extensions are dropped on forwarding; this bounds what we read of them. */
const MAX_EXT_BYTES = 4096
/**
 * RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
 * the name a token, the value a token or quoted-string (RFC 9110 §5.6.4). Matched
 * without BWS, as llhttp does and as the chunk size already is: whitespace and
 * stray bytes in a chunk line are where chunked parsers disagree (request
 * smuggling), and extensions are dropped on forwarding anyway.
 */
const CHUNK_EXT_RE =
  /^(?:;[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:=(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?)+$/

export class ChunkedDecoder {
  /** Trailer fields as `[name, value, …]` once the body is complete, if any. */
  trailers: string[] | undefined = undefined
  /** Decoded bytes so far. */
  received = 0
  private state = SIZE
  private remaining = 0
  private digits = 0
  private extBytes = 0
  private ext = ''
  private trailerText = ''
  private readonly code: ErrorCode
  private readonly maxTrailerSize: number
  private readonly maxTrailers: number
  private readonly maxBody: number

  /** `maxBody` (0: none) refuses a body as soon as a chunk-size line would take it over. */
  constructor(code: ErrorCode, maxTrailerSize = 16 * 1024, maxTrailers = 100, maxBody = 0) {
    this.code = code
    this.maxTrailerSize = maxTrailerSize
    this.maxTrailers = maxTrailers
    this.maxBody = maxBody
  }

  get done(): boolean {
    return this.state === DONE
  }

  /**
   * feed decodes `buf[start..]`. Returns the index just past the message's
   * end once the last CRLF is seen (later bytes belong to the next message),
   * or -1 when every byte was consumed and more are needed.
   */
  feed(buf: Buffer, start: number, sink: ChunkSink): number {
    let i = start
    const len = buf.length
    while (i < len) {
      if (this.state === DATA) {
        const take = Math.min(this.remaining, len - i)
        sink.chunkData(take === len && i === 0 ? buf : buf.subarray(i, i + take))
        this.received += take
        this.remaining -= take
        i += take
        if (this.remaining === 0) this.state = DATA_CR
        continue
      }
      const c = buf[i++]!
      switch (this.state) {
        case SIZE:
        case SIZE_MORE:
          this.readSizeByte(c)
          break
        case EXT:
          if (c === 0x0d) this.endExtension()
          else if (++this.extBytes > MAX_EXT_BYTES) this.fail('chunk extension too long')
          else this.ext += String.fromCharCode(c)
          break
        case SIZE_LF:
          if (c !== 0x0a) this.fail('expected LF after chunk size')
          // Refused on the declared size, before any byte of the chunk is
          // forwarded, as nginx does: how the body arrives cannot matter.
          if (this.maxBody > 0 && this.received + this.remaining > this.maxBody)
            throw new GatewayError('BODY_TOO_LARGE', 'chunked body over the limit')
          this.state = this.remaining === 0 ? TRAILER : DATA
          break
        case DATA_CR:
          if (c !== 0x0d) this.fail('expected CRLF after chunk data')
          this.state = DATA_LF
          break
        case DATA_LF:
          if (c !== 0x0a) this.fail('expected CRLF after chunk data')
          this.state = SIZE
          this.digits = 0
          this.extBytes = 0
          break
        case TRAILER:
          if (this.readTrailerByte(c)) return i
          break
        case TRAILER_LF:
          if (c !== 0x0a) this.fail('bare CR in trailer section')
          if (this.endTrailerLine()) return i
          break
        default:
          return i - 1
      }
    }
    return -1
  }

  private readSizeByte(c: number): void {
    const v = hexValue(c)
    if (v !== -1) {
      if (++this.digits > MAX_SIZE_DIGITS) this.fail('chunk size too large')
      this.remaining = this.remaining * 16 + v
      this.state = SIZE_MORE
      return
    }
    if (this.state === SIZE) this.fail('invalid chunk size')
    if (c === 0x0d) this.state = SIZE_LF
    else if (c === 0x3b /* ; */) {
      this.state = EXT
      this.ext = ';'
    } else this.fail('invalid chunk size')
  }

  private endExtension(): void {
    if (!CHUNK_EXT_RE.test(this.ext)) this.fail('invalid chunk extension')
    this.ext = ''
    this.state = SIZE_LF
  }

  /** Returns true when the blank line ending the trailer section has been read. */
  private readTrailerByte(c: number): boolean {
    if (c === 0x0d) {
      this.state = TRAILER_LF
      return false
    }
    if (c === 0x0a) this.fail('bare LF in trailer section')
    if (this.trailerText.length >= this.maxTrailerSize) this.fail('trailer section too large')
    this.trailerText += String.fromCharCode(c)
    return false
  }

  private endTrailerLine(): boolean {
    const text = this.trailerText
    if (text === '' || text.endsWith('\r\n')) {
      this.state = DONE
      if (text !== '') {
        const sink = new Fields()
        parseFieldLines(text, 0, text.length - 2, sink, this.maxTrailers, this.code)
        // RFC 9110 §6.5.1: framing fields are never allowed in trailers; a recipient
        // that merged one into the header section would re-frame the message.
        if (sink.contentLengthCount > 0 || sink.transferEncoding !== undefined)
          this.fail('framing field in trailer section')
        this.trailers = sink.rawHeaders
      }
      return true
    }
    this.trailerText += '\r\n'
    this.state = TRAILER
    return false
  }

  private fail(message: string): never {
    throw new GatewayError(this.code, message)
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  return -1
}
