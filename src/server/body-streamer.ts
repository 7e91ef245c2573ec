/**
 * BodyStreamer writes a Readable to the client with backpressure: the
 * stream pauses while the socket's buffer is full and resumes on drain.
 * Used for gateway-made streamed responses (static files, hook answers).
 */
import type { Readable } from 'node:stream'
import { GatewayError } from '../core/errors.ts'
import { CRLF, chunkHeader, lastChunk } from '../http1/serialize.ts'

/** What the streamer needs from the client connection. */
export interface StreamTarget {
  write(data: string | Buffer): boolean
  responseComplete(): void
  abortResponse(err: GatewayError): void
}

export class BodyStreamer {
  private readonly stream: Readable
  private readonly target: StreamTarget
  private readonly chunked: boolean
  private finished = false
  /** Bytes still owed to a Content-Length, or -1 when the body is not length-framed. */
  private remaining: number

  /** `length` is the Content-Length sent, when the body is length-framed. */
  constructor(stream: Readable, target: StreamTarget, chunked: boolean, length?: number) {
    this.stream = stream
    this.target = target
    this.chunked = chunked
    this.remaining = length ?? -1
    stream.on('data', (chunk: Buffer | string) =>
      this.onData(typeof chunk === 'string' ? Buffer.from(chunk) : chunk),
    )
    stream.once('end', () => this.onEnd())
    stream.once('error', (err) => this.onError(err))
  }

  onClientDrain(): void {
    if (!this.finished) this.stream.resume()
  }

  /** destroy stops reading (the client left). */
  destroy(): void {
    this.finished = true
    this.stream.destroy()
  }

  private onData(chunk: Buffer): void {
    if (this.finished || chunk.length === 0) return
    if (this.remaining !== -1 && (this.remaining -= chunk.length) < 0) {
      this.onError(new Error('longer than its Content-Length'))
      return
    }
    let ok: boolean
    if (this.chunked) {
      this.target.write(chunkHeader(chunk.length))
      this.target.write(chunk)
      ok = this.target.write(CRLF)
    } else ok = this.target.write(chunk)
    if (!ok) this.stream.pause()
  }

  private onEnd(): void {
    if (this.finished) return
    // A short body would leave the client waiting and desynchronise keep-alive framing.
    if (this.remaining > 0) {
      this.onError(new Error(`ended ${this.remaining} bytes short of its Content-Length`))
      return
    }
    this.finished = true
    if (this.chunked) this.target.write(lastChunk(undefined))
    this.target.responseComplete()
  }

  private onError(err: Error): void {
    if (this.finished) return
    this.finished = true
    this.stream.destroy()
    // The head is out: the only honest signal left is closing the connection.
    this.target.abortResponse(
      new GatewayError('INTERNAL_ERROR', `response body stream failed: ${err.message}`),
    )
  }
}
