/**
 * WebSocket messages in a HAR, as Chromium's devtools export and import
 * them: the upgrade request's entry carries `_resourceType: "websocket"` and
 * `_webSocketMessages`, one `{ type, time, opcode, data }` per message:
 * `type` is `send` (from the client) or `receive` (to it), `time` seconds
 * since the epoch (a float), `opcode` 1 (text, `data` as is) or 2 (binary,
 * `data` base64). Control frames (ping, pong, close) are not messages and
 * are not recorded, as the onWebSocketMessage hook does not see them.
 *
 * Bounded: the first `maxMessages` messages of a connection are kept (later
 * ones counted), and each message's data is cut at `maxData` bytes; a cut
 * message has `_size`, its full size in bytes. The entry's comment says how
 * many were cut or not kept.
 */
import { performance } from 'node:perf_hooks'
import type { WebSocketMessage } from '../core/hooks.ts'

/** One element of `_webSocketMessages`. */
export interface HarWebSocketMessage {
  type: 'send' | 'receive'
  /** Seconds since the epoch. */
  time: number
  /** 1 text, 2 binary (RFC 6455 §5.2). */
  opcode: 1 | 2
  /** The text, or base64 of a binary message. */
  data: string
  /** Present when `data` was cut: the message's whole size in bytes. */
  _size?: number
}

/** isWebSocket: whether an `Upgrade` value names the WebSocket protocol (RFC 6455 §4.1). */
export function isWebSocket(protocol: string | undefined): boolean {
  if (protocol === undefined) return false
  for (const member of protocol.split(',')) if (member.trim().toLowerCase() === 'websocket') return true
  return false
}

/** WebSocketCapture: the messages of one WebSocket connection, bounded. */
export class WebSocketCapture {
  readonly messages: HarWebSocketMessage[] = []
  /** Messages past `maxMessages`, counted and not kept. */
  dropped = 0
  /** Messages whose data was cut. */
  cut = 0
  private readonly maxMessages: number
  private readonly maxData: number

  constructor(maxMessages: number, maxData: number) {
    this.maxMessages = maxMessages
    this.maxData = maxData
  }

  add(m: WebSocketMessage): void {
    if (this.messages.length >= this.maxMessages) {
      this.dropped++
      return
    }
    const time = (performance.timeOrigin + performance.now()) / 1000
    const type = m.direction === 'client' ? 'send' : 'receive'
    const max = this.maxData
    let data: string
    let size: number | undefined
    if (m.type === 'binary') {
      if (m.data.length > max) size = m.data.length
      data = (size === undefined ? m.data : m.data.subarray(0, max)).toString('base64')
    } else {
      data = m.data
      // A UTF-16 length over max may still be at most max bytes; byteLength only then.
      if (data.length * 3 > max && Buffer.byteLength(data) > max) {
        const bytes = Buffer.from(data)
        size = bytes.length
        // stream: a character split at the cut is left out rather than replaced by U+FFFD.
        data = new TextDecoder().decode(bytes.subarray(0, max), { stream: true })
      }
    }
    const message: HarWebSocketMessage = { type, time, opcode: m.type === 'binary' ? 2 : 1, data }
    if (size !== undefined) {
      message._size = size
      this.cut++
    }
    this.messages.push(message)
  }

  /** note says what was cut or not kept; undefined when everything is there. */
  note(): string | undefined {
    const notes: string[] = []
    if (this.cut > 0) notes.push(`${this.cut} WebSocket messages cut at ${this.maxData} bytes`)
    if (this.dropped > 0)
      notes.push(`${this.dropped} WebSocket messages after the first ${this.maxMessages} not kept`)
    return notes.length === 0 ? undefined : notes.join('; ')
  }
}
