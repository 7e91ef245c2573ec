/**
 * The request side of the streaming body transform (transformRequestBody in
 * src/forward/stream-body.ts sets `session.requestTransform`): the exchange
 * writes each request body slice into the transform, chunked framing
 * removed (the bytes `session.requestBodyTap` sees), and sends what comes
 * out upstream as it comes, instead of the client's bytes.
 *
 * - The transformed body's length is not known ahead, so it goes chunked
 *   (RFC 9112 §7.1): the client's Content-Length is not forwarded (a length
 *   the bytes no longer have would desynchronise the upstream connection,
 *   RFC 9112 §6.3), Transfer-Encoding: chunked is sent instead. An upstream
 *   that cannot read chunked (HTTP/1.0, RFC 9112 §7.1: "MUST NOT send
 *   chunked to a 1.0 recipient") is not handled: the head says chunked.
 * - Digests of the old body (BODY_DIGEST_FIELDS) go from the head, and the
 *   trailers of a chunked request follow the new body filtered as the
 *   whole-body rewrite filters them (keptTrailers).
 * - Content-Encoding is left as the client declared it: the transform sees
 *   (and must give back) the bytes in that coding.
 * - Backpressure holds both ways: the client is paused while the transform's
 *   writable side is full (write() false, resumed on its 'drain'), and the
 *   transform's output is paused while the upstream socket (or the head not
 *   yet sent) cannot take more (resumed by resumeOutput). What is buffered
 *   is the transform's own high-water marks, one client read and one output
 *   chunk beyond them.
 * - A transform that fails (error event, or a write after its end) fails the
 *   request: 500 `HOOK_FAILED` before a response head, a closed connection
 *   after one.
 */
import type { Duplex } from 'node:stream'
import { BODY_DIGEST_FIELDS, keptTrailers } from './request-body.ts'

/** Where a RequestBodyTransformer sends the transformed body: the exchange's upstream side. */
export interface TransformedBodySink {
  /** A slice of the transformed body; false: the upstream is full, wait for resumeOutput. */
  data(chunk: Buffer): boolean
  /** The transformed body ended; `trailers` are the client's, filtered (keptTrailers). */
  end(trailers: string[] | undefined): void
  /** The transform failed. Called at most once. */
  error(err: Error): void
  /** The transform's writable side drained: the client may send again. */
  drain(): void
}

/** RequestBodyTransformer runs a request body through a session's transform, with backpressure both ways. */
export class RequestBodyTransformer {
  private readonly stream: Duplex
  private readonly sink: TransformedBodySink
  /** The client's trailers, kept until the transform's output ends. */
  private trailers: string[] | undefined = undefined
  private outputPaused = false
  private failed = false
  private ended = false

  constructor(stream: Duplex, sink: TransformedBodySink) {
    this.stream = stream
    this.sink = sink
    stream.on('data', (chunk: Buffer | string) => {
      if (this.failed) return
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      if (b.length === 0) return // an empty slice would read as the last chunk
      if (!sink.data(b)) {
        this.outputPaused = true
        stream.pause()
      }
    })
    stream.on('end', () => {
      if (!this.failed) sink.end(keptTrailers(this.trailers))
    })
    stream.on('error', (err: Error) => this.fail(err))
    stream.on('drain', () => sink.drain())
  }

  /**
   * requestData writes a copy of a body slice into the transform (the
   * client's read buffers are reused, the transform may keep the slice);
   * false asks the client to pause until the transform drains.
   */
  requestData(chunk: Buffer): boolean {
    if (this.failed) return true
    if (this.ended) {
      this.fail(new Error('request body after the transform ended'))
      return true
    }
    return this.stream.write(Buffer.from(chunk))
  }

  /** requestEnd ends the transform's input; its output's end ends the body upstream, with these trailers. */
  requestEnd(trailers: string[] | undefined): void {
    if (this.failed || this.ended) return
    this.ended = true
    this.trailers = trailers
    this.stream.end()
  }

  /** resumeOutput: the upstream takes bytes again (it drained, or the head went out). */
  resumeOutput(): void {
    if (!this.outputPaused || this.failed) return
    this.outputPaused = false
    this.stream.resume()
  }

  /** destroy lets go of the transform: the exchange ended (response done, failed, or the client left). */
  destroy(): void {
    this.failed = true
    if (!this.stream.destroyed) this.stream.destroy()
  }

  private fail(err: Error): void {
    if (this.failed) return
    this.failed = true
    this.sink.error(err)
  }
}

/** dropBodyDigests removes the fields that digest the old body from a flat `[name, value, …]` head. */
export function dropBodyDigests(fields: string[]): void {
  for (let i = fields.length - 2; i >= 0; i -= 2)
    if (BODY_DIGEST_FIELDS.includes(fields[i]!.toLowerCase())) fields.splice(i, 2)
}
