/**
 * The WebSocket message relay: after a 101 to `websocket` on a route with
 * `onWebSocketMessage` hooks, each direction's frames are read
 * (websocket-frames.ts), each whole message goes through the hooks, and what
 * they leave is sent on as one final frame (RFC 6455 §5.4 lets an
 * intermediary refragment when no extension is in use: the offers are
 * removed from the upgrade request by offerNoExtensions). Control frames
 * pass as they came, in their place in the stream. A message whose hooks
 * await holds the frames behind it (and pauses the sender), so order is
 * kept per direction. A violation closes both sides: 1002, 1007 (text that
 * is not UTF-8), 1009 (over the cap) or 1011 (a hook failed).
 */
import type net from 'node:net'
import { GatewayError, toGatewayError } from '../core/errors.ts'
import type { HookLists, WebSocketMessage, WebSocketMessageResult } from '../core/hooks.ts'
import type { RequestHead } from '../core/request-head.ts'
import type { Session } from '../core/session.ts'
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

export type MessageHook = HookLists['onWebSocketMessage'][number]

/** isWebSocket: whether an `Upgrade` value (as forwarded) names the WebSocket protocol (RFC 6455 §4.1). */
export function isWebSocket(protocol: string | undefined): boolean {
  if (protocol === undefined) return false
  for (const member of protocol.split(',')) if (member.trim().toLowerCase() === 'websocket') return true
  return false
}

/**
 * offerNoExtensions removes `Sec-WebSocket-Extensions` from a WebSocket
 * upgrade request, so the server negotiates none (RFC 6455 §9.1): the relay
 * must read every frame, and permessage-deflate (RFC 7692) would compress
 * them. Called only for routes with message hooks.
 */
export function offerNoExtensions(head: RequestHead): void {
  if (!isWebSocket(head.upgradeProtocol)) return
  const raw = head.rawHeaders
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    if (raw[i]!.toLowerCase() === 'sec-websocket-extensions') raw.splice(i, 2)
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** One item waiting behind a message whose hooks are awaited. */
type Pending = { opcode: number; payload: Buffer; control: boolean }

/** One direction of the relay: frames read from `from`, written to `to`. */
class Direction implements FrameSink {
  readonly reader: WebSocketReader
  private readonly relay: WebSocketRelay
  private readonly from: net.Socket
  private readonly to: net.Socket
  private readonly fromClient: boolean
  /** True while a message's hooks are awaited; frames read meanwhile wait in `queue`. */
  private busy = false
  private readonly queue: Pending[] = []

  constructor(relay: WebSocketRelay, from: net.Socket, to: net.Socket, fromClient: boolean, max: number) {
    this.relay = relay
    this.from = from
    this.to = to
    this.fromClient = fromClient
    this.reader = new WebSocketReader(fromClient, max, this)
  }

  message(opcode: number, payload: Buffer): void {
    if (this.relay.closed) return
    if (this.busy) this.hold({ opcode, payload, control: false })
    else this.process(opcode, payload)
  }

  control(opcode: number, payload: Buffer): void {
    if (this.relay.closed) return
    if (this.busy) this.hold({ opcode, payload, control: true })
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

  /** process runs the hooks on one message, then sends what they left; false when it waits on a promise. */
  private process(opcode: number, payload: Buffer): boolean {
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
      if (done !== undefined) this.sendMessage(done, original, payload)
      this.drainQueue()
    })
    if (r === PENDING) {
      this.busy = true
      this.from.pause()
      return false
    }
    if (r !== undefined) this.sendMessage(r, original, payload)
    return true
  }

  /** sendMessage sends a message as the hooks left it; one no hook replaced keeps its bytes. */
  private sendMessage(m: WebSocketMessage | typeof DROPPED, original: WebSocketMessage, bytes: Buffer): void {
    if (m === DROPPED) return
    if (m === original) this.send(m.type === 'text' ? OP_TEXT : OP_BINARY, bytes)
    else if (m.type === 'binary') this.send(OP_BINARY, m.data)
    else this.send(OP_TEXT, Buffer.from(m.data, 'utf8'))
  }

  /** drainQueue sends what waited behind an awaited message, until the next one awaits. */
  private drainQueue(): void {
    while (this.queue.length > 0 && !this.relay.closed) {
      const item = this.queue.shift()!
      if (item.control) this.send(item.opcode, item.payload)
      else if (!this.process(item.opcode, item.payload)) return
    }
    if (!this.relay.closed && !this.to.writableNeedDrain) this.from.resume()
  }

  send(opcode: number, payload: Buffer): void {
    if (this.relay.closed || this.to.writableEnded) return
    // Backpressure as for the byte pipe: pairSockets resumes the sender on 'drain'.
    if (!this.to.write(encodeFrame(opcode, payload, this.fromClient))) this.from.pause()
  }
}

/** What runHooks returns when a hook returned a promise: the result comes through the callback. */
const PENDING = Symbol('pending')
/** A message a hook dropped. */
const DROPPED = Symbol('dropped')

/**
 * WebSocketRelay joins the two sides of an upgraded WebSocket through the
 * message hooks. `fromClient` and `fromServer` take the raw bytes each side
 * sends (they copy what they keep).
 */
export class WebSocketRelay {
  closed = false
  private readonly client: Direction
  private readonly server: Direction
  private readonly session: Session
  private readonly hooks: readonly MessageHook[]
  private readonly clientSocket: net.Socket
  private readonly serverSocket: net.Socket

  constructor(
    clientSocket: net.Socket,
    serverSocket: net.Socket,
    session: Session,
    hooks: readonly MessageHook[],
    maxMessage: number,
  ) {
    this.session = session
    this.hooks = hooks
    this.client = new Direction(this, clientSocket, serverSocket, true, maxMessage)
    this.server = new Direction(this, serverSocket, clientSocket, false, maxMessage)
    this.clientSocket = clientSocket
    this.serverSocket = serverSocket
  }

  readonly fromClient = (data: Buffer): void => this.feed(this.client, data)
  readonly fromServer = (data: Buffer): void => this.feed(this.server, data)

  /** keepSendersPaused: call after pairSockets (see Direction.keepPaused). */
  keepSendersPaused(): void {
    this.client.keepPaused()
    this.server.keepPaused()
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
