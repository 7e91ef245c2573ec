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
 * message's dictionary. Deflating, the dictionary is the last 1 KiB the
 * relay deflated in that direction: most of the gain for small messages that
 * repeat each other (a 64-byte JSON message: 66 bytes alone, 17 with it), at
 * about the cost of none, where 32 KiB measured 3-5x.
 */
import zlib from 'node:zlib'
import { CLOSE_INVALID_DATA, CLOSE_TOO_BIG, FrameError } from './websocket-frames.ts'

/** How much of what it deflated before the relay's deflate refers back to, at most. */
const SENT_DICTIONARY = 1024
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
  /** With context takeover, the last bytes inflated: the window the sender's next message refers to. */
  private readonly window: Tail | null
  /**
   * With context takeover, the last bytes the relay deflated: what its next
   * deflate may refer to. Always the end of the receiver's window: once the
   * relay deflates, no compressed message goes on as it came (deflate sets
   * `diverged`).
   */
  private readonly sent: Tail | null
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
    this.window = noContextTakeover ? null : new Tail(1 << windowBits)
    this.sent = noContextTakeover ? null : new Tail(Math.min(SENT_DICTIONARY, 1 << windowBits))
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
    const window = this.window?.view()
    let out: Buffer
    try {
      out = zlib.inflateRawSync(
        input,
        window === undefined ? this.inflateOptions : { ...this.inflateOptions, dictionary: window },
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
    this.window?.push(out)
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
   * flush, the trailing 00 00 ff ff removed). With context takeover it may
   * refer to the last SENT_DICTIONARY bytes it deflated (see `sent`);
   * without, to nothing (§7.1.1).
   */
  deflate(plain: Buffer): Buffer {
    const dictionary = this.sent?.view()
    // A window larger than the message and dictionary (plus zlib's 262-byte lookahead) finds no
    // more matches, and a smaller one is cheaper to set up. Never above the agreed size; zlib
    // makes 8 into 9, whose farthest match (250 bytes) still fits a 256-byte window.
    const reach = plain.length + (dictionary?.length ?? 0) + 262
    const bits = Math.min(this.windowBits, Math.max(9, Math.ceil(Math.log2(reach))))
    const options: zlib.ZlibOptions = {
      windowBits: bits,
      memLevel: Math.min(8, Math.max(1, bits - 6)),
      finishFlush: Z_SYNC_FLUSH,
    }
    if (dictionary !== undefined) options.dictionary = dictionary
    const out = zlib.deflateRawSync(plain, options)
    this.sent?.push(plain)
    this.diverged = true
    return out.subarray(0, out.length - 4)
  }
}

/**
 * Tail keeps the last `cap` bytes pushed (copied: they may go to the hooks,
 * which may change them), in one buffer allocated on first use: zlib copies
 * a dictionary when it starts, so one buffer serves every message.
 */
class Tail {
  private readonly cap: number
  private buf: Buffer | null = null
  private length = 0

  constructor(cap: number) {
    this.cap = cap
  }

  push(bytes: Buffer): void {
    if (bytes.length === 0) return
    const cap = this.cap
    const b = (this.buf ??= Buffer.allocUnsafe(cap))
    if (bytes.length >= cap) {
      bytes.copy(b, 0, bytes.length - cap)
      this.length = cap
      return
    }
    // Slide what is kept to the front (copy handles the overlap), then append.
    const keep = Math.min(this.length, cap - bytes.length)
    b.copy(b, 0, this.length - keep, this.length)
    bytes.copy(b, keep)
    this.length = keep + bytes.length
  }

  /** view: what is kept, undefined when nothing is. */
  view(): Buffer | undefined {
    return this.length === 0 ? undefined : this.buf!.subarray(0, this.length)
  }
}
