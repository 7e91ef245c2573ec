/**
 * RequestWriter frames a request body for the upstream connection: as
 * received for Content-Length, re-chunked for chunked (so extensions are
 * dropped and framing is ours, RFC 9112 §7.1). Body events that come before
 * the head was sent are held and go out with the head in one write.
 */
import type net from 'node:net'
import { HeldBody } from '../http1/held-body.ts'
import type { RequestHead } from '../http1/request-head.ts'
import { CRLF, chunkHeader, lastChunk } from '../http1/serialize.ts'
import type { BodyFraming } from './forwarding.ts'
import type { UpstreamConnection } from '../upstream/connection.ts'

export class RequestWriter {
  /** How the body is framed upstream ('length', or 'chunked' with trailers, once a whole-body rewrite made it: holdWhole). */
  framing: BodyFraming
  /** The head went out on the current connection; until then body events are held. */
  headSent = false
  private early: HeldBody | null = null
  /** The upstream socket corked by sendHead until flush(). */
  private corked: net.Socket | null = null
  /** The socket body bytes were last written to: what it has not sent yet it references. */
  private sock: net.Socket | null = null

  constructor(head: RequestHead) {
    this.framing = head.chunked ? 'chunked' : head.contentLength > 0 ? 'length' : 'none'
  }

  /** holdData keeps a body slice until the head is sent. */
  holdData(data: Buffer): void {
    ;(this.early ??= new HeldBody()).data(data)
  }

  holdEnd(trailers: string[] | undefined): void {
    ;(this.early ??= new HeldBody()).end(trailers)
  }

  /**
   * rewind makes the request ready to go again on a new connection (a
   * retry): nothing sent yet, and the kept copy of the body, if any, held to
   * go out with the head. Body bytes still to come from the client follow it.
   */
  rewind(body: { chunks: Buffer[]; ended: boolean; trailers: string[] | undefined } | null): void {
    this.headSent = false
    this.sock = null
    this.corked = null
    if (body === null) return
    const early = (this.early = new HeldBody())
    for (const b of body.chunks) early.data(b)
    if (body.ended) early.end(body.trailers)
  }

  /**
   * takeHeld hands the body events held for the head to `sink` and forgets
   * them: a whole-body rewrite (request-body.ts) starts with them.
   */
  takeHeld(sink: {
    requestData(chunk: Buffer): unknown
    requestEnd(trailers: string[] | undefined): void
  }): void {
    const early = this.early
    this.early = null
    early?.replayTo(sink)
  }

  /**
   * holdWhole: the body is `body`, whole (a whole-body rewrite), to go with
   * the head framed by its length, or chunked when `trailers` follow it
   * (only a chunked body carries trailers, RFC 9112 §7.1.2).
   */
  holdWhole(body: Buffer, trailers: string[] | undefined): void {
    this.framing = trailers === undefined ? 'length' : 'chunked'
    const early = (this.early = new HeldBody())
    if (body.length > 0) early.data(body)
    early.end(trailers)
  }

  /** The trailers of a held end. */
  get heldTrailers(): string[] | undefined {
    return this.early?.trailers
  }

  /**
   * sendHead writes the head and the held body slices in one write. Returns
   * whether the body's end was held too (the caller then ends the request;
   * on a retry the end is reported again).
   */
  sendHead(sock: net.Socket, head: string, up: UpstreamConnection, clientReading: boolean): boolean {
    this.headSent = true
    const chunks = this.early?.takeChunks()
    if (chunks == null) {
      if (this.framing !== 'none' && clientReading) {
        // The body is likely in the client read being handled: hold the head
        // until that read is done (flush) so head and body leave in one write.
        sock.cork()
        this.corked = sock
      }
      sock.write(head, 'latin1')
      return this.early?.ended === true
    }
    sock.cork()
    sock.write(head, 'latin1')
    for (const b of chunks) this.write(up, b)
    sock.uncork()
    return this.early?.ended === true
  }

  /**
   * keepsBytes tells whether body slices given to this writer may still be
   * referenced: held for the head, or queued (not yet sent) on the socket.
   */
  keepsBytes(): boolean {
    if (this.early !== null && this.early.holding) return true
    const sock = this.sock
    return sock !== null && sock.writableLength > 0
  }

  /** flush sends what sendHead held back; called when the client read that sent the head is handled. */
  flush(): void {
    const sock = this.corked
    if (sock === null) return
    this.corked = null
    if (sock.writableCorked > 0) sock.uncork()
  }

  /** write frames a body slice onto the connection; false means its buffer is full. */
  write(up: UpstreamConnection | null, data: Buffer): boolean {
    if (up === null || up.closed) return true
    const sock = up.socket
    this.sock = sock
    if (this.framing !== 'chunked') return sock.write(data)
    sock.cork()
    sock.write(chunkHeader(data.length), 'latin1')
    sock.write(data)
    const ok = sock.write(CRLF)
    sock.uncork()
    return ok
  }

  /** end writes the last chunk (with trailers) of a chunked body. */
  end(up: UpstreamConnection | null, trailers: string[] | undefined): void {
    if (this.framing === 'chunked') up?.socket.write(lastChunk(trailers), 'latin1')
  }
}
