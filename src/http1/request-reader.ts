/**
 * RequestReader turns the byte stream of one client connection into request
 * events: a head, body slices, the body's end. It is the whole framing logic
 * of the downstream side, free of sockets so that the differential and fuzz
 * tests drive exactly the code that serves traffic.
 *
 * Pipelining (RFC 9112 §9.3.2): after a message ends the reader stops until
 * `next()` is called, so responses go out in request order; bytes that
 * arrive meanwhile are kept (the connection bounds them via `buffered`).
 */
import { GatewayError } from '../core/errors.ts'
import { ChunkedDecoder, type ChunkSink } from './chunked.ts'
import {
  type HeadLimits,
  parseRequestHead,
  REVERSE_PROXY_FORMS,
  type RequestHead,
  scanRequestHead,
  type TargetForms,
} from './request-head.ts'

/** What the reader reports. Each method may call `next()`, `pause()` or `destroy()` on the reader. */
export interface RequestHandler {
  /** A complete, valid head. Its body (if any) follows via onBody/onBodyEnd. */
  onHead(head: RequestHead): void
  onBody(data: Buffer): void
  /** The message is complete; `trailers` when a chunked body carried any. */
  onBodyEnd(trailers: string[] | undefined): void
  /**
   * The stream can no longer be framed; the connection must answer (if it can) and close.
   * `head` is given when a head parsed but was refused (413): the answer can then honour its Accept and request id.
   */
  onError(err: GatewayError, head?: RequestHead): void
}

export interface ReaderLimits extends HeadLimits {
  /** Largest body accepted; 0 for no limit. */
  maxBodySize: number
}

const WAIT_HEAD = 0
const BODY_LENGTH = 1
const BODY_CHUNKED = 2
const WAIT_NEXT = 3
const FAILED = 4

export class RequestReader implements ChunkSink {
  private state = WAIT_HEAD
  private buf: Buffer | null = null
  private remaining = 0
  private decoder: ChunkedDecoder | null = null
  private paused = false
  /** True while a handler callback runs: guards against re-entrant parsing. */
  private busy = false
  private nextRequested = false
  private readonly limits: ReaderLimits
  private readonly forms: TargetForms
  private readonly handler: RequestHandler

  constructor(handler: RequestHandler, limits: ReaderLimits, forms: TargetForms = REVERSE_PROXY_FORMS) {
    this.handler = handler
    this.limits = limits
    this.forms = forms
  }

  /** Bytes received but not yet consumed (pipelined requests, a partial head). */
  get buffered(): number {
    return this.buf === null ? 0 : this.buf.length
  }

  /** True while no part of a message has been received since the last one ended. */
  get idle(): boolean {
    return (this.state === WAIT_HEAD || this.state === WAIT_NEXT) && this.buf === null
  }

  /** True while the head of a message is being received. */
  get readingHead(): boolean {
    return this.state === WAIT_HEAD && this.buf !== null
  }

  /** True between a head and the end of its body. */
  get readingBody(): boolean {
    return this.state === BODY_LENGTH || this.state === BODY_CHUNKED
  }

  /** push feeds bytes from the socket. */
  push(chunk: Buffer): void {
    if (this.state === FAILED) return
    if (this.buf === null && !this.paused && !this.busy && this.readingBody) {
      // Body bytes with nothing buffered: decode in place, no copy.
      this.busy = true
      const end = this.feedBody(chunk, 0)
      this.busy = false
      if (end !== -1 && end < chunk.length && this.state !== FAILED) this.buf = chunk.subarray(end)
    } else {
      this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk])
    }
    this.run()
  }

  /** pause stops events until resume(); bytes keep buffering. */
  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    this.run()
  }

  /**
   * next allows the following pipelined message to be read (call when the
   * response is done). Called from inside a handler callback, it takes effect
   * when that callback returns, so events never interleave.
   */
  next(): void {
    this.nextRequested = true
    this.run()
  }

  /** destroy drops everything; no more events. */
  destroy(): void {
    this.state = FAILED
    this.buf = null
  }

  /** takeBuffered hands over unread bytes (the start of a tunnel after an upgrade). */
  takeBuffered(): Buffer | null {
    const b = this.buf
    this.buf = null
    return b
  }

  private run(): void {
    if (this.busy) return // re-entrant: the running loop below picks up the change
    this.busy = true
    try {
      for (;;) {
        if (this.nextRequested && this.state === WAIT_NEXT) {
          this.nextRequested = false
          this.state = WAIT_HEAD
        }
        const buf = this.buf
        if (buf === null || this.paused || this.state === FAILED || this.state === WAIT_NEXT) return
        if (this.state === WAIT_HEAD) {
          if (!this.readHead(buf)) return
          continue
        }
        this.buf = null
        const end = this.feedBody(buf, 0)
        if (end !== -1 && end < buf.length && this.state !== FAILED) this.buf = buf.subarray(end)
      }
    } finally {
      this.busy = false
    }
  }

  /** Returns false when more bytes are needed or the stream failed. */
  private readHead(buf: Buffer): boolean {
    let head: RequestHead
    let parsed: RequestHead | undefined
    let end: number
    try {
      end = scanRequestHead(buf, 0, this.limits)
      if (end === -1) return false
      head = parsed = parseRequestHead(buf, 0, end, this.limits, this.forms)
      this.checkBodySize(head)
    } catch (err) {
      this.fail(err, parsed)
      return false
    }
    this.buf = end < buf.length ? buf.subarray(end) : null
    this.nextRequested = false
    if (head.chunked) {
      this.state = BODY_CHUNKED
      this.decoder = new ChunkedDecoder('MALFORMED_REQUEST', undefined, undefined, this.limits.maxBodySize)
    } else if (head.contentLength > 0) {
      this.state = BODY_LENGTH
      this.remaining = head.contentLength
    } else {
      this.state = WAIT_NEXT
    }
    this.handler.onHead(head)
    if (this.state === WAIT_NEXT && !this.isFailed()) this.handler.onBodyEnd(undefined)
    return true
  }

  private checkBodySize(head: RequestHead): void {
    const max = this.limits.maxBodySize
    if (max > 0 && head.contentLength > max)
      throw new GatewayError('BODY_TOO_LARGE', 'Content-Length over the limit')
  }

  /** Returns the index in `buf` where the body ended, or -1 when all of it was body. */
  private feedBody(buf: Buffer, start: number): number {
    if (this.state === BODY_LENGTH) {
      const available = buf.length - start
      if (available <= this.remaining) {
        this.remaining -= available
        this.handler.onBody(start === 0 ? buf : buf.subarray(start))
        if (this.remaining === 0) this.endBody(undefined)
        return -1
      }
      const end = start + this.remaining
      this.remaining = 0
      this.handler.onBody(buf.subarray(start, end))
      this.endBody(undefined)
      return end
    }
    const decoder = this.decoder!
    let end: number
    try {
      end = decoder.feed(buf, start, this)
    } catch (err) {
      this.fail(err)
      return -1
    }
    if (end !== -1) {
      this.endBody(decoder.trailers)
      return end
    }
    return -1
  }

  /** ChunkSink: decoded chunk data (the decoder checked it against the body limit). */
  chunkData(data: Buffer): void {
    this.handler.onBody(data)
  }

  private endBody(trailers: string[] | undefined): void {
    if (this.state === FAILED) return
    this.state = WAIT_NEXT
    this.decoder = null
    this.handler.onBodyEnd(trailers)
  }

  private isFailed(): boolean {
    return this.state === FAILED
  }

  private fail(err: unknown, head?: RequestHead): void {
    this.state = FAILED
    this.buf = null
    this.handler.onError(
      err instanceof GatewayError ? err : new GatewayError('MALFORMED_REQUEST', String(err)),
      head,
    )
  }
}
