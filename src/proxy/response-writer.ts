/**
 * ResponseWriter frames a proxied response for the client: it holds the
 * head back until the first body bytes so a small response leaves in one
 * write, and frames the body as the client needs it (as received, chunked,
 * or until close for HTTP/1.0).
 */
import type net from 'node:net'
import type { Duplex } from 'node:stream'
import type { ResponseHead } from '../http1/response-head.ts'
import { CRLF, chunkHeader, lastChunk, type ResponseFraming } from '../http1/serialize.ts'

/** What the writer needs of the client connection. */
export interface ClientSink {
  readonly socket: net.Socket
  /** Writes to the client; false means wait for drain. */
  write(data: string | Buffer): boolean
}

/** What the exchange hears from a body transform. */
export interface TransformEvents {
  /** It takes input again: resume the source. */
  drain(): void
  /** Its output ended: the response is complete. */
  end(): void
  error(err: Error): void
}

/** Body bytes up to this size are written together with the response head. */
const MERGE_LIMIT = 16 * 1024

export class ResponseWriter {
  /** How the body is framed to the client (see chooseFraming). */
  framing: ResponseFraming = 'none'
  private head: string | null = null
  /** The stream the body passes through on its way out (a hook's bodyTransform), if any. */
  private transform: Duplex | null = null
  /** Inside an upstream read (see beginBatch). */
  private batching = false
  /** Something was written in this batch. */
  private sent = false
  /** The client socket was corked by this batch. */
  private corked = false
  private readonly client: ClientSink

  constructor(client: ClientSink) {
    this.client = client
  }

  /** holdHead keeps a serialized head until the first body bytes or flushHead(). */
  holdHead(head: string): void {
    this.head = head
  }

  /** flushHead writes a response head still held back. */
  flushHead(): void {
    const head = this.head
    if (head === null) return
    this.head = null
    this.send(head)
  }

  /**
   * beginBatch and endBatch bracket the handling of one upstream read: the
   * first write in it goes out at once (a small response is just that one),
   * later ones are corked and leave together when the batch ends.
   */
  beginBatch(): void {
    this.batching = true
  }

  endBatch(): void {
    this.flushHead()
    this.batching = false
    this.sent = false
    if (this.corked) {
      this.corked = false
      this.client.socket.uncork()
    }
  }

  private send(data: string | Buffer): boolean {
    if (this.batching) {
      if (this.sent && !this.corked) {
        this.corked = true
        this.client.socket.cork()
      }
      this.sent = true
    }
    return this.client.write(data)
  }

  /** write frames body bytes for the client; false means the client's buffer is full. */
  write(data: Buffer): boolean {
    const head = this.head
    if (head !== null) {
      this.head = null
      if (data.length <= MERGE_LIMIT) {
        // One write instead of two, measured to matter. latin1 maps bytes
        // 0–255 one to one, so the body survives the string intact.
        const body = data.toString('latin1')
        if (this.framing !== 'chunked') return this.send(head + body)
        // The last chunk likely follows in this batch: leave together.
        if (this.batching) this.sent = true
        return this.send(`${head}${chunkHeader(data.length)}${body}\r\n`)
      }
      this.send(head)
    }
    if (this.framing !== 'chunked') return this.send(data)
    const sock = this.client.socket
    sock.cork()
    this.send(chunkHeader(data.length))
    this.send(data)
    const ok = this.send(CRLF)
    sock.uncork()
    return ok
  }

  /**
   * pipeThrough sends the body through `t`: its output is framed and written,
   * paced by the client. The length changes, so the body is re-framed:
   * chunked, or until close for an HTTP/1.0 client.
   */
  pipeThrough(t: Duplex, clientMinor: number, events: TransformEvents): void {
    this.transform = t
    this.framing = clientMinor === 1 ? 'chunked' : 'close'
    t.on('data', (out: Buffer) => {
      if (!this.write(out)) t.pause()
    })
    t.on('drain', events.drain)
    t.once('end', events.end)
    t.once('error', events.error)
  }

  /** True while the body passes through a transform (which may keep the bytes it was given). */
  get transforming(): boolean {
    return this.transform !== null
  }

  /** body takes upstream body bytes (through the transform when there is one); false asks to pause the source. */
  body(data: Buffer): boolean {
    return this.transform === null ? this.write(data) : this.transform.write(data)
  }

  /** bodyEnd reports the upstream body's end: true when the response can end now, false when the transform's end will tell. */
  bodyEnd(): boolean {
    if (this.transform === null) return true
    this.transform.end()
    return false
  }

  /** onClientDrain resumes a transform paused for the client; true when there is one (it paces the source itself). */
  onClientDrain(): boolean {
    this.transform?.resume()
    return this.transform !== null
  }

  /** destroy stops a transform that has not finished (the exchange failed or was aborted). */
  destroy(): void {
    if (this.transform !== null && !this.transform.writableFinished) this.transform.destroy()
  }

  /** end writes what ends the body: a held head, and the last chunk (with trailers) when chunked. */
  end(trailers: string[] | undefined): void {
    this.flushHead()
    if (this.framing === 'chunked') this.send(lastChunk(trailers))
  }
}

/**
 * chooseFraming decides how a response body goes to the client: none for
 * HEAD/204/304 (RFC 9110 §6.4.1), as received when it has a length, else
 * chunked for HTTP/1.1 clients and until close for HTTP/1.0 ones.
 */
export function chooseFraming(method: string, head: ResponseHead, clientMinor: number): ResponseFraming {
  if (method === 'HEAD' || head.status === 204 || head.status === 304) return 'none'
  if (head.chunked || head.contentLength < 0) return clientMinor === 1 ? 'chunked' : 'close'
  return 'length'
}
