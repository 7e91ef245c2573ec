/**
 * RFC 6455 §5 framing for the WebSocket message relay (websocket-relay.ts):
 * an incremental reader that checks each frame, unmasks it and reassembles
 * fragmented messages under a size cap, and the encoder for frames the relay
 * sends. RSV1 marks a message compressed with permessage-deflate (RFC 7692),
 * which websocket-deflate.ts inflates. Only used when a route has
 * `onWebSocketMessage` hooks; otherwise an upgraded connection stays a byte
 * pipe (tunnel.ts).
 */
import { randomFillSync } from 'node:crypto'

export const OP_CONTINUATION = 0x0
export const OP_TEXT = 0x1
export const OP_BINARY = 0x2
export const OP_CLOSE = 0x8
export const OP_PING = 0x9
export const OP_PONG = 0xa

/** Close codes (RFC 6455 §7.4.1). */
export const CLOSE_PROTOCOL_ERROR = 1002
export const CLOSE_INVALID_DATA = 1007
export const CLOSE_TOO_BIG = 1009
export const CLOSE_INTERNAL_ERROR = 1011

/** FrameError is a violation of RFC 6455 by the peer, with the close code it calls for. */
export class FrameError extends Error {
  readonly closeCode: number

  constructor(closeCode: number, message: string) {
    super(message)
    this.closeCode = closeCode
  }
}

/** What a WebSocketReader hands on. */
export interface FrameSink {
  /**
   * A complete data message (fragments joined): OP_TEXT or OP_BINARY,
   * payload unmasked; `compressed` when its first frame had RSV1 (RFC 7692 §6),
   * the payload then still deflated.
   */
  message(opcode: number, payload: Buffer, compressed: boolean): void
  /** A control frame (close, ping, pong), possibly between the fragments of a message. */
  control(opcode: number, payload: Buffer): void
}

const EMPTY = Buffer.alloc(0)

/**
 * WebSocketReader parses one direction of a WebSocket connection. Bytes
 * given to push() are copied where kept, so a caller's read buffer is never
 * retained. A violation throws a FrameError; the reader is unusable after.
 */
export class WebSocketReader {
  /** Frames from a client must be masked, frames from a server must not (RFC 6455 §5.1). */
  private readonly fromClient: boolean
  /** Largest message in bytes (all its fragments), else CLOSE_TOO_BIG. */
  private readonly maxMessage: number
  private readonly sink: FrameSink
  /** Whether permessage-deflate was agreed: RSV1 then marks a compressed message. */
  private readonly deflate: boolean
  private readonly head = Buffer.alloc(14)
  private headLen = 0
  private fin = false
  private opcode = 0
  private payload: Buffer | null = null
  private filled = 0
  private readonly mask = Buffer.alloc(4)
  private masked = false
  /** The opcode of the fragmented message being read (0 when none), and its fragments so far. */
  private messageOpcode = 0
  /** Whether the message being read (its first frame) had RSV1. */
  private compressed = false
  private fragments: Buffer[] = []
  private messageSize = 0

  constructor(fromClient: boolean, maxMessage: number, sink: FrameSink, deflate = false) {
    this.fromClient = fromClient
    this.maxMessage = maxMessage
    this.sink = sink
    this.deflate = deflate
  }

  /** push reads `chunk`; complete messages and control frames go to the sink in order. */
  push(chunk: Buffer): void {
    let at = 0
    while (at < chunk.length) {
      if (this.payload === null) at = this.readHead(chunk, at)
      else at = this.readPayload(chunk, at)
    }
  }

  private readHead(chunk: Buffer, at: number): number {
    // Two bytes say how long the rest of the head is; take up to what is known to be needed.
    const need = this.headLen < 2 ? 2 : headLength(this.head)
    const n = Math.min(need - this.headLen, chunk.length - at)
    chunk.copy(this.head, this.headLen, at, at + n)
    this.headLen += n
    at += n
    if (this.headLen === 2 && headLength(this.head) > 2) return at
    if (this.headLen < need) return at
    this.startFrame()
    return at
  }

  /** startFrame checks a complete head (RFC 6455 §5.2, §5.5) and allocates the payload. */
  private startFrame(): void {
    const h = this.head
    this.fin = (h[0]! & 0x80) !== 0
    this.opcode = h[0]! & 0x0f
    this.masked = (h[1]! & 0x80) !== 0
    const who = this.fromClient ? 'client' : 'server'
    if (this.masked !== this.fromClient)
      throw new FrameError(CLOSE_PROTOCOL_ERROR, `${who} frame ${this.masked ? 'masked' : 'not masked'}`)
    const op = this.opcode
    if ((op > OP_BINARY && op < OP_CLOSE) || op > OP_PONG)
      throw new FrameError(CLOSE_PROTOCOL_ERROR, `${who} frame with opcode ${op}`)
    // The relay offers no extension but permessage-deflate (websocket-extensions.ts): RSV2 and RSV3
    // must be 0, and RSV1 only marks the first frame of a compressed data message (RFC 7692 §6).
    const rsv = h[0]! & 0x70
    if (rsv !== 0 && (rsv !== 0x40 || !this.deflate || op === OP_CONTINUATION || op >= OP_CLOSE))
      throw new FrameError(CLOSE_PROTOCOL_ERROR, `${who} frame with RSV bits ${rsv >> 4} on opcode ${op}`)
    let len = h[1]! & 0x7f
    let at = 2
    if (len === 126) {
      len = h.readUInt16BE(2)
      at = 4
    } else if (len === 127) {
      const high = h.readUInt32BE(2)
      // §5.2: the most significant bit MUST be 0; anything else past 2^53 is over any cap anyway.
      if (high >= 0x80000000)
        throw new FrameError(CLOSE_PROTOCOL_ERROR, `${who} frame length with the top bit set`)
      if (high > 0x1fffff) throw new FrameError(CLOSE_TOO_BIG, `${who} frame length out of range`)
      len = high * 2 ** 32 + h.readUInt32BE(6)
      at = 10
    }
    if (op >= OP_CLOSE) {
      if (!this.fin || len > 125)
        throw new FrameError(CLOSE_PROTOCOL_ERROR, `${who} control frame fragmented or over 125 bytes`)
    } else {
      const starts = op !== OP_CONTINUATION
      if (starts === (this.messageOpcode !== 0))
        throw new FrameError(
          CLOSE_PROTOCOL_ERROR,
          starts ? `${who} new message inside a fragmented one` : `${who} continuation with no message`,
        )
      // Checked before anything is allocated: a peer cannot make us hold more than the cap.
      if (this.messageSize + len > this.maxMessage)
        throw new FrameError(CLOSE_TOO_BIG, `${who} message over ${this.maxMessage} bytes`)
      if (starts) this.compressed = rsv !== 0
    }
    if (this.masked) h.copy(this.mask, 0, at, at + 4)
    this.headLen = 0
    this.filled = 0
    this.payload = len === 0 ? EMPTY : Buffer.allocUnsafe(len)
    if (len === 0) this.endFrame()
  }

  private readPayload(chunk: Buffer, at: number): number {
    const p = this.payload!
    const n = Math.min(p.length - this.filled, chunk.length - at)
    chunk.copy(p, this.filled, at, at + n)
    this.filled += n
    if (this.filled === p.length) this.endFrame()
    return at + n
  }

  private endFrame(): void {
    const p = this.payload!
    this.payload = null
    if (this.masked) unmask(p, this.mask)
    const op = this.opcode
    if (op >= OP_CLOSE) return this.sink.control(op, p)
    if (op !== OP_CONTINUATION) this.messageOpcode = op
    if (this.fin && this.fragments.length === 0) {
      this.messageOpcode = 0
      return this.sink.message(op, p, this.compressed)
    }
    this.fragments.push(p)
    this.messageSize += p.length
    if (!this.fin) return
    const whole = Buffer.concat(this.fragments, this.messageSize)
    const messageOp = this.messageOpcode
    this.fragments = []
    this.messageSize = 0
    this.messageOpcode = 0
    this.sink.message(messageOp, whole, this.compressed)
  }
}

/** headLength is the length of a frame head whose first two bytes are in `h` (RFC 6455 §5.2). */
function headLength(h: Buffer): number {
  const len = h[1]! & 0x7f
  return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + ((h[1]! & 0x80) !== 0 ? 4 : 0)
}

function unmask(p: Buffer, mask: Buffer): void {
  for (let i = 0; i < p.length; i++) p[i]! ^= mask[i & 3]!
}

/**
 * encodeFrame makes one final frame (FIN set), with RSV1 when `compressed`
 * (RFC 7692 §6). Frames to a server are masked with a fresh key (RFC 6455
 * §5.3: unpredictable, one per frame); frames to a client are not.
 */
export function encodeFrame(opcode: number, payload: Buffer, toServer: boolean, compressed = false): Buffer {
  const len = payload.length
  const lenBytes = len < 126 ? 0 : len < 0x10000 ? 2 : 8
  const headLen = 2 + lenBytes + (toServer ? 4 : 0)
  const out = Buffer.allocUnsafe(headLen + len)
  out[0] = (compressed ? 0xc0 : 0x80) | opcode
  out[1] = (toServer ? 0x80 : 0) | (lenBytes === 0 ? len : lenBytes === 2 ? 126 : 127)
  if (lenBytes === 2) out.writeUInt16BE(len, 2)
  else if (lenBytes === 8) {
    out.writeUInt32BE(Math.floor(len / 2 ** 32), 2)
    out.writeUInt32BE(len >>> 0, 6)
  }
  if (!toServer) {
    payload.copy(out, headLen)
    return out
  }
  const key = out.subarray(headLen - 4, headLen)
  nextMaskKey(key)
  for (let i = 0; i < len; i++) out[headLen + i] = payload[i]! ^ key[i & 3]!
  return out
}

/**
 * Mask keys come from one pool of crypto-random bytes (as the `ws` library
 * does): randomFillSync costs about 6 µs a call here, more than relaying
 * a small message, and 2048 keys per call are as unpredictable as one.
 */
const keys = Buffer.allocUnsafe(8192)
let keyAt = keys.length

function nextMaskKey(into: Buffer): void {
  if (keyAt === keys.length) {
    randomFillSync(keys)
    keyAt = 0
  }
  keys.copy(into, 0, keyAt, keyAt + 4)
  keyAt += 4
}

/** closePayload is a Close frame's body: the status code (RFC 6455 §5.5.1), no reason. */
export function closePayload(code: number): Buffer {
  const b = Buffer.allocUnsafe(2)
  b.writeUInt16BE(code, 0)
  return b
}
