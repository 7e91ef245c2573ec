/**
 * HeldBody keeps the body events of one message (data slices, then its end)
 * that arrive before their destination is ready: a request body before its
 * route is decided or its head is sent upstream, a response body while
 * response hooks run. The sender is paused meanwhile, so what is held is at
 * most what it delivered before pausing. The holder replays it in order.
 */
export class HeldBody {
  /** The end was held, with these trailers. */
  ended = false
  trailers: string[] | undefined = undefined
  /** Bytes of the slices held now. */
  bytes = 0
  private chunks: Buffer[] | null = null
  private discarding = false

  /** data holds a slice; false when the body is being discarded (the slice is dropped). */
  data(chunk: Buffer): boolean {
    if (this.discarding) return false
    ;(this.chunks ??= []).push(chunk)
    this.bytes += chunk.length
    return true
  }

  end(trailers: string[] | undefined): void {
    if (this.discarding) return
    this.ended = true
    this.trailers = trailers
  }

  /** True while body slices are held. */
  get holding(): boolean {
    return this.chunks !== null
  }

  /** takeChunks returns the held slices in order and forgets them; null when none. */
  takeChunks(): Buffer[] | null {
    const chunks = this.chunks
    this.chunks = null
    this.bytes = 0
    return chunks
  }

  /** replayTo hands what is held to `sink`, in order, and forgets it. */
  replayTo(sink: {
    requestData(chunk: Buffer): unknown
    requestEnd(trailers: string[] | undefined): void
  }): void {
    const chunks = this.takeChunks()
    if (chunks !== null) for (const b of chunks) sink.requestData(b)
    if (this.takeEnd()) sink.requestEnd(this.trailers)
  }

  /** takeEnd tells once whether the end was held. */
  takeEnd(): boolean {
    const ended = this.ended
    this.ended = false
    return ended
  }

  /** discard drops what is held and everything after: a body nobody will read. */
  discard(): void {
    this.discarding = true
    this.chunks = null
    this.bytes = 0
    this.ended = false
  }

  /** reset makes it ready for the next message. */
  reset(): void {
    this.chunks = null
    this.bytes = 0
    this.ended = false
    this.trailers = undefined
    this.discarding = false
  }
}
