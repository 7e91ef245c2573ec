/**
 * permessage-deflate (RFC 7692) for one direction of the WebSocket message
 * relay (websocket-relay.ts): compressed messages are inflated for the hooks
 * and, when they cannot go on as they came, deflated again.
 *
 * Both run synchronously, one zlib call per message (measured on Node 24:
 * about 10-30 µs for a small message, where a streaming zlib object's flush
 * costs 50-90 µs in its thread-pool round trip; Node offers no synchronous
 * call on a kept zlib stream). Context takeover is kept without a kept
 * stream: after a sync flush the only state between two messages is the
 * LZ77 window, so the last 2^windowBits bytes inflated are the next
 * message's dictionary.
 */
import zlib from 'node:zlib'
import { CLOSE_INVALID_DATA, CLOSE_TOO_BIG, FrameError } from './websocket-frames.ts'

/** RFC 7692 §7.2.2: the bytes a sync flush ends with, removed by the sender and put back to inflate. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff])
const { Z_SYNC_FLUSH } = zlib.constants

/**
 * MessageDeflate is one sender's compression, with the parameters the 101
 * agreed for it (`server_*` for what the origin sends, `client_*` for what
 * the client sends).
 */
export class MessageDeflate {
  /** The sender's window (RFC 7692 §7.1.2): inflate with it, and deflate within it for the receiver. */
  private readonly windowBits: number
  /** `*_no_context_takeover`: each message stands alone, so one sent on as it came always inflates right. */
  private readonly resetEachMessage: boolean
  private readonly inflateOptions: zlib.ZlibOptions
  private readonly who: string
  /**
   * With context takeover, the last bytes inflated (the first `windowLength`
   * of this buffer, allocated once at 2^windowBits): the window the sender's
   * next message refers to. zlib copies a dictionary when it starts, so one
   * buffer serves every message.
   */
  private window: Buffer | null = null
  private windowLength = 0
  /**
   * With context takeover, true once a compressed message went on other
   * than as it came (replaced or dropped): the receiver's window no longer
   * matches the sender's, so the sender's later messages cannot go on as
   * they came either.
   */
  private diverged = false

  constructor(windowBits: number, noContextTakeover: boolean, maxMessage: number, who: string) {
    this.windowBits = windowBits
    this.resetEachMessage = noContextTakeover
    this.who = who
    // maxOutputLength: zlib stops after the output chunk that passes it, so a
    // bomb is never inflated whole (at most the cap and one 16 KiB chunk).
    this.inflateOptions = { windowBits, finishFlush: Z_SYNC_FLUSH, maxOutputLength: maxMessage }
  }

  /**
   * inflate returns a compressed message's payload (RFC 7692 §7.2.2). Throws
   * a FrameError: 1009 past the cap, 1007 for data that does not inflate
   * (as `ws` closes; RFC 6455 §7.4.1: data inconsistent with the message).
   */
  inflate(payload: Buffer): Buffer {
    const input = Buffer.allocUnsafe(payload.length + 4)
    payload.copy(input, 0)
    TAIL.copy(input, payload.length)
    const window = this.windowLength === 0 ? null : this.window!.subarray(0, this.windowLength)
    let out: Buffer
    try {
      out = zlib.inflateRawSync(
        input,
        window === null ? this.inflateOptions : { ...this.inflateOptions, dictionary: window },
      )
    } catch (err) {
      const code = (err as { code?: unknown }).code
      if (code === 'ERR_BUFFER_TOO_LARGE')
        throw new FrameError(
          CLOSE_TOO_BIG,
          `${this.who} message over ${this.inflateOptions.maxOutputLength} bytes inflated`,
        )
      throw new FrameError(
        CLOSE_INVALID_DATA,
        `${this.who} compressed message does not inflate (${String(code)})`,
      )
    }
    if (!this.resetEachMessage) this.remember(out)
    return out
  }

  /** keepsOriginal: whether a message the hooks left as it was may go on with the bytes the sender compressed. */
  get keepsOriginal(): boolean {
    return this.resetEachMessage || !this.diverged
  }

  /** diverge: a compressed message went on replaced, or not at all. */
  diverge(): void {
    this.diverged = true
  }

  /**
   * deflate compresses a message for the receiver (RFC 7692 §7.2.1: sync
   * flush, the trailing 00 00 ff ff removed). Each message is compressed on
   * its own, referring to no earlier one: context takeover allows such
   * references but never requires them (§7.1.1), and setting a 32 KiB window
   * as a dictionary measured 3-5x the cost of the compression itself.
   */
  deflate(plain: Buffer): Buffer {
    // A window larger than the message (plus zlib's 262-byte lookahead) finds no more matches,
    // and a smaller one is cheaper to set up. Never above the agreed size; zlib
    // makes 8 into 9, whose farthest match (250 bytes) still fits a 256-byte window.
    const bits = Math.min(this.windowBits, Math.max(9, Math.ceil(Math.log2(plain.length + 262))))
    const out = zlib.deflateRawSync(plain, {
      windowBits: bits,
      memLevel: Math.min(8, Math.max(1, bits - 6)),
      finishFlush: Z_SYNC_FLUSH,
    })
    return out.subarray(0, out.length - 4)
  }

  /** remember keeps the last 2^windowBits bytes inflated (copied: `out` goes to the hooks, which may change it). */
  private remember(out: Buffer): void {
    if (out.length === 0) return
    const size = 1 << this.windowBits
    const w = (this.window ??= Buffer.allocUnsafe(size))
    if (out.length >= size) {
      out.copy(w, 0, out.length - size)
      this.windowLength = size
      return
    }
    // Slide what is kept to the front (copy handles the overlap), then append.
    const keep = Math.min(this.windowLength, size - out.length)
    w.copy(w, 0, this.windowLength - keep, this.windowLength)
    out.copy(w, keep)
    this.windowLength = keep + out.length
  }
}
