/**
 * ReadBuffer is the memory a plain-TCP socket's reads land in (net's
 * `onread` option): one buffer per connection, used read after read, instead
 * of a new Buffer and a 'data' event per read.
 *
 * The bytes of a read are only valid until the next read. A consumer that
 * keeps a view of them past the read callback (a partial head, a body chunk
 * still queued on the other socket, a held body, a tunnel write) makes the
 * connection `lend()` the buffer: the next read gets a new one and the old
 * one lives as long as that view, exactly like a stream chunk. Lending
 * instead of copying keeps large bodies zero-copy.
 *
 * Sizes adapt: a connection reads into a small buffer while messages are
 * small or it idles (a held connection costs the small size, not 64 KiB),
 * and into a large one, what libuv's stream reads ask for, once a read fills
 * the small one: a body is streaming.
 */
export class ReadBuffer {
  private buf: Buffer | null = null
  private lent = false
  private size: number
  private readonly small: number
  private readonly large: number

  constructor(small: number, large: number) {
    this.small = small
    this.large = large
    this.size = small
  }

  /** next gives the socket the buffer for its next read (the `onread.buffer` callback). */
  next(): Buffer {
    const buf = this.buf
    if (buf === null || this.lent || buf.length !== this.size) {
      this.lent = false
      return (this.buf = Buffer.allocUnsafeSlow(this.size))
    }
    return buf
  }

  /** lend marks the bytes of the current read as kept beyond it (see the class comment). */
  lend(): void {
    this.lent = true
  }

  /**
   * adapt picks the size of the next buffer after a read of `n` bytes into
   * `length`: large after a full read, small again after a read the small
   * one would have held, or when `idle` (nothing more is expected soon).
   * Every change of size costs one allocation.
   */
  adapt(n: number, length: number, idle: boolean): void {
    if (n === length) this.size = this.large
    else if (idle || n <= this.small) this.size = this.small
  }
}
