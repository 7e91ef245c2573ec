/**
 * The WebSocket message relay: after a 101 to `websocket` on a route with
 * `onWebSocketMessage` hooks, each direction's frames are read
 * (websocket-frames.ts), each whole message goes through the hooks, and what
 * they leave is sent on as one final frame (RFC 6455 §5.4 lets an
 * intermediary refragment when it knows the extensions in use: the offers
 * are cut to permessage-deflate by offerReadableExtensions). With
 * permessage-deflate agreed (RFC 7692), compressed messages are inflated for
 * the hooks and sent on compressed (websocket-deflate.ts). Control frames
 * pass as they came, in their place in the stream. A message whose hooks
 * await holds the frames behind it (and pauses the sender), so order is
 * kept per direction. A violation closes both sides: 1002, 1007 (text that
 * is not UTF-8, data that does not inflate), 1009 (over the cap, inflated
 * or not) or 1011 (a hook failed).
 */
import type net from 'node:net'
import { GatewayError, toGatewayError } from '../core/errors.ts'
import type { HookLists, WebSocketMessage, WebSocketMessageResult } from '../core/hooks.ts'
import type { Session } from '../core/session.ts'
import { MessageDeflate } from './websocket-deflate.ts'
import { type DeflateParams, negotiatedDeflate } from './websocket-extensions.ts'
import {
  CLOSE_INTERNAL_ERROR,
  CLOSE_INVALID_DATA,
  CLOSE_TOO_BIG,
  closePayload,
  encodeFrame,
  FrameError,
  type FrameSink,
  OP_BINARY,
  OP_CLOSE,
  OP_TEXT,
  WebSocketReader,
} from './websocket-frames.ts'

export { isWebSocket, offerReadableExtensions } from './websocket-extensions.ts'

export type MessageHook = HookLists['onWebSocketMessage'][number]

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** One item waiting behind a message whose hooks are awaited. */
type Pending = { opcode: number; payload: Buffer; control: boolean; compressed: boolean }

/** One direction of the relay: frames read from `from`, written to `to`. */
class Direction implements FrameSink {
  readonly reader: WebSocketReader
  private readonly relay: WebSocketRelay
  private readonly from: net.Socket
  private readonly to: net.Socket
  private readonly fromClient: boolean
  /** The sender's permessage-deflate, when agreed. */
  private readonly deflate: MessageDeflate | null
  /** True while a message's hooks are awaited; frames read meanwhile wait in `queue`. */
  private busy = false
  private readonly queue: Pending[] = []

  constructor(
    relay: WebSocketRelay,
    from: net.Socket,
    to: net.Socket,
    fromClient: boolean,
    max: number,
    deflate: MessageDeflate | null,
  ) {
    this.relay = relay
    this.from = from
    this.to = to
    this.fromClient = fromClient
    this.deflate = deflate
    this.reader = new WebSocketReader(fromClient, max, this, deflate !== null)
  }

  message(opcode: number, payload: Buffer, compressed: boolean): void {
    if (this.relay.closed) return
    if (this.busy) this.hold({ opcode, payload, control: false, compressed })
    else this.process(opcode, payload, compressed)
  }

  control(opcode: number, payload: Buffer): void {
    if (this.relay.closed) return
    if (this.busy) this.hold({ opcode, payload, control: true, compressed: false })
    else this.send(opcode, payload)
  }

  /**
   * keepPaused: pairSockets resumes the sender when `to` drains; while a
   * hook is awaited it must stay paused, or its later bytes, and its FIN
   * (which a paused socket does not read), would overtake the message.
   * Registered after pairSockets' listener, so it runs after it.
   */
  keepPaused(): void {
    this.to.on('drain', () => {
      if (this.busy) this.from.pause()
    })
  }

  private hold(item: Pending): void {
    this.queue.push(item)
    this.from.pause()
  }

  /**
   * process runs the hooks on one message (inflated first when `compressed`:
   * messages are processed in order, as the sender's window needs), then
   * sends what they left; false when it waits on a promise.
   */
  private process(opcode: number, wire: Buffer, compressed: boolean): boolean {
    let payload = wire
    if (compressed) {
      try {
        payload = this.deflate!.inflate(wire)
      } catch (err) {
        this.relay.fail(err)
        return true
      }
    }
    let message: WebSocketMessage
    const direction = this.fromClient ? 'client' : 'server'
    if (opcode === OP_BINARY) message = { direction, type: 'binary', data: payload }
    else {
      let text: string
      try {
        text = utf8.decode(payload)
      } catch {
        this.relay.fail(new FrameError(CLOSE_INVALID_DATA, `${direction} text message not UTF-8`))
        return true
      }
      message = { direction, type: 'text', data: text }
    }
    const original = message
    const r = this.relay.runHooks(message, 0, (done) => {
      this.busy = false
      if (done !== undefined) this.sendMessage(done, original, payload, compressed ? wire : null)
      this.drainQueue()
    })
    if (r === PENDING) {
      this.busy = true
      this.from.pause()
      return false
    }
    if (r !== undefined) this.sendMessage(r, original, payload, compressed ? wire : null)
    return true
  }

  /**
   * sendMessage sends a message as the hooks left it. One left as it was
   * keeps its bytes: a compressed one its compressed bytes, while the
   * receiver's window is the sender's (MessageDeflate.keepsOriginal);
   * otherwise what goes on compressed is deflated anew. `deflated` is the
   * message as it came when it came compressed, else null.
   */
  private sendMessage(
    m: WebSocketMessage | typeof DROPPED,
    original: WebSocketMessage,
    bytes: Buffer,
    deflated: Buffer | null,
  ): void {
    const deflate = this.deflate
    if (m === DROPPED) {
      if (deflated !== null) deflate!.diverge()
      return
    }
    const opcode = m.type === 'text' ? OP_TEXT : OP_BINARY
    // A string equal to the text is the text (strings cannot be changed in place; Buffers can).
    const same = m === original || (m.type === 'text' && original.type === 'text' && m.data === original.data)
    if (deflated === null) {
      if (same) this.send(opcode, bytes)
      else this.send(opcode, m.type === 'binary' ? m.data : Buffer.from(m.data, 'utf8'))
    } else if (same && deflate!.keepsOriginal) this.send(opcode, deflated, true)
    else {
      if (!same) deflate!.diverge()
      const plain = same ? bytes : m.type === 'binary' ? m.data : Buffer.from(m.data, 'utf8')
      this.send(opcode, deflate!.deflate(plain), true)
    }
  }

  /** drainQueue sends what waited behind an awaited message, until the next one awaits. */
  private drainQueue(): void {
    while (this.queue.length > 0 && !this.relay.closed) {
      const item = this.queue.shift()!
      if (item.control) this.send(item.opcode, item.payload)
      else if (!this.process(item.opcode, item.payload, item.compressed)) return
    }
    if (!this.relay.closed && !this.to.writableNeedDrain) this.from.resume()
  }

  send(opcode: number, payload: Buffer, compressed = false): void {
    if (this.relay.closed || this.to.writableEnded) return
    // Backpressure as for the byte pipe: pairSockets resumes the sender on 'drain'.
    if (!this.to.write(encodeFrame(opcode, payload, this.fromClient, compressed))) this.from.pause()
  }
}

/** What runHooks returns when a hook returned a promise: the result comes through the callback. */
const PENDING = Symbol('pending')
/** A message a hook dropped. */
const DROPPED = Symbol('dropped')

/**
 * WebSocketRelay joins the two sides of an upgraded WebSocket through the
 * message hooks. `fromClient` and `fromServer` take the raw bytes each side
 * sends (they copy what they keep). `agreed` is the 101's header list: its
 * `Sec-WebSocket-Extensions` says whether messages may come compressed.
 */
export class WebSocketRelay {
  closed = false
  private readonly client: Direction
  private readonly server: Direction
  private readonly session: Session
  private readonly hooks: readonly MessageHook[]
  private readonly clientSocket: net.Socket
  private readonly serverSocket: net.Socket
  /** Set when the 101 agreed to an extension the relay cannot read; start() then closes with 1002. */
  private readonly refused: FrameError | undefined

  constructor(
    clientSocket: net.Socket,
    serverSocket: net.Socket,
    session: Session,
    hooks: readonly MessageHook[],
    maxMessage: number,
    agreed: readonly string[] = [],
  ) {
    this.session = session
    this.hooks = hooks
    let params: DeflateParams | null = null
    try {
      params = negotiatedDeflate(agreed)
    } catch (err) {
      this.refused = err as FrameError
    }
    const [fromClient, fromServer] = params === null ? [null, null] : deflates(params, maxMessage)
    this.client = new Direction(this, clientSocket, serverSocket, true, maxMessage, fromClient)
    this.server = new Direction(this, serverSocket, clientSocket, false, maxMessage, fromServer)
    this.clientSocket = clientSocket
    this.serverSocket = serverSocket
  }

  readonly fromClient = (data: Buffer): void => this.feed(this.client, data)
  readonly fromServer = (data: Buffer): void => this.feed(this.server, data)

  /**
   * start: call after pairSockets. Keeps a sender paused behind an awaited
   * hook (see Direction.keepPaused), and closes both sides at once when the
   * 101 agreed to an extension the relay cannot read.
   */
  start(): void {
    this.client.keepPaused()
    this.server.keepPaused()
    if (this.refused !== undefined) this.fail(this.refused)
  }

  private feed(d: Direction, data: Buffer): void {
    if (this.closed) return
    // The frames one read produced leave in one writev, not one write (syscall) each.
    const to = d === this.client ? this.serverSocket : this.clientSocket
    to.cork()
    try {
      d.reader.push(data)
    } catch (err) {
      this.fail(err)
    } finally {
      to.uncork()
    }
  }

  /**
   * runHooks runs the hooks from `from` on `m`. Returns the message to send
   * (or DROPPED) when every hook returned synchronously; else PENDING, and
   * `done` gets the outcome (undefined when the relay failed meanwhile).
   */
  runHooks(
    m: WebSocketMessage,
    from: number,
    done: (m: WebSocketMessage | typeof DROPPED | undefined) => void,
  ): WebSocketMessage | typeof DROPPED | typeof PENDING | undefined {
    const hooks = this.hooks
    for (let i = from; i < hooks.length; i++) {
      let r: ReturnType<MessageHook>
      try {
        r = hooks[i]!(this.session, m)
      } catch (err) {
        this.fail(toGatewayError(err, 'HOOK_FAILED'))
        return undefined
      }
      if (r instanceof Promise) {
        r.then(
          (v: WebSocketMessageResult) => {
            if (this.closed) return done(undefined)
            const next = apply(m, v)
            if (next === undefined) {
              this.fail(badResult(v))
              return done(undefined)
            }
            if (next === DROPPED) return done(DROPPED)
            const rest = this.runHooks(next, i + 1, done)
            if (rest !== PENDING) done(rest)
          },
          (err: unknown) => {
            this.fail(toGatewayError(err, 'HOOK_FAILED'))
            done(undefined)
          },
        )
        return PENDING
      }
      const next = apply(m, r)
      if (next === undefined) {
        this.fail(badResult(r))
        return undefined
      }
      if (next === DROPPED) return DROPPED
      m = next
    }
    return m
  }

  /**
   * fail closes both sides: a Close frame with the code to each, then
   * both sockets end (pairSockets tears them down).
   * The reason goes to the session's error, which the access log shows.
   */
  fail(err: unknown): void {
    if (this.closed) return
    const code = err instanceof FrameError ? err.closeCode : CLOSE_INTERNAL_ERROR
    // RFC 6455 §7.1.7: failing the connection, a Close frame may precede the TCP close; each side gets one.
    this.server.send(OP_CLOSE, closePayload(code)) // to the client
    this.client.send(OP_CLOSE, closePayload(code)) // to the server, masked
    this.closed = true
    this.session.error ??=
      err instanceof FrameError
        ? new GatewayError(
            code === CLOSE_TOO_BIG ? 'WEBSOCKET_MESSAGE_TOO_LARGE' : 'WEBSOCKET_PROTOCOL_ERROR',
            err.message,
          )
        : toGatewayError(err, 'INTERNAL_ERROR')
    this.clientSocket.end()
    this.serverSocket.end()
    // Read on to the end (ignored from now on): a sender paused behind an awaited hook must see its peer's FIN.
    this.clientSocket.resume()
    this.serverSocket.resume()
  }
}

/** deflates: each sender's MessageDeflate, with the window and context the 101 agreed for it (RFC 7692 §7.1). */
function deflates(p: DeflateParams, max: number): [MessageDeflate, MessageDeflate] {
  return [
    new MessageDeflate(p.clientMaxWindowBits, p.clientNoContextTakeover, max, 'client'),
    new MessageDeflate(p.serverMaxWindowBits, p.serverNoContextTakeover, max, 'server'),
  ]
}

/** apply: the message after a hook's result; DROPPED, or undefined for a result that is none of the kinds. */
function apply(
  m: WebSocketMessage,
  r: WebSocketMessageResult,
): WebSocketMessage | typeof DROPPED | undefined {
  if (r === undefined || r === null) return m
  if (typeof r === 'string') return { direction: m.direction, type: 'text', data: r }
  if (r instanceof Uint8Array) {
    // A plain Uint8Array is accepted too (JavaScript callers), viewed as a Buffer without a copy.
    const u: Uint8Array = r
    const data = Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength)
    return { direction: m.direction, type: 'binary', data }
  }
  if (typeof r === 'object' && r.kind === 'drop') return DROPPED
  return undefined
}

function badResult(r: unknown): GatewayError {
  return new GatewayError(
    'HOOK_FAILED',
    `onWebSocketMessage returned ${typeof r}, not a string, Buffer or DROP_MESSAGE`,
  )
}
