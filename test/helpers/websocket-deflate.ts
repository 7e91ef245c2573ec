/**
 * What the permessage-deflate relay tests share (test/integration/
 * websocket-deflate.test.ts, test/forward/mitm-websocket-deflate.test.ts):
 * a `ws` echo origin with compression on, a hook that rewrites some messages,
 * drops some and leaves the rest as they are, the conversation it is tried
 * on, and a reader of the frame heads a socket carried, to show the bytes on
 * the wire were compressed.
 */
import http from 'node:http'
import https from 'node:https'
import type net from 'node:net'
import { type PerMessageDeflateOptions, type RawData, WebSocket, WebSocketServer } from 'ws'
import { DROP_MESSAGE, type GatewayHooks } from '../../src/core/hooks.ts'
import type { Cleanup } from './gateway.ts'
import { stopWebSocketServer } from './websocket.ts'

/** What an echo origin saw: the upgrade's offers, each text message, and the bytes its sockets read. */
export interface EchoOrigin {
  port: number
  offers: (string | undefined)[]
  messages: string[]
  /** Everything the origin's sockets read (upgrade request, then masked frames). */
  read: Buffer[]
}

/**
 * echoOrigin starts a `ws` origin on 127.0.0.1 that compresses every message
 * (threshold 0) and answers: `fragments please` with a message in two
 * fragments, `bomb N` with N bytes of zeros, anything else with `echo TEXT`.
 * HTTPS when `cert` is given. Closed when the test ends.
 */
export async function echoOrigin(
  t: Cleanup,
  deflate: PerMessageDeflateOptions,
  cert?: { cert: string; key: string },
): Promise<EchoOrigin> {
  const server = cert ? https.createServer(cert) : http.createServer()
  const wss = new WebSocketServer({ server, perMessageDeflate: { threshold: 0, ...deflate } })
  const o: EchoOrigin = { port: 0, offers: [], messages: [], read: [] }
  server.on(cert ? 'secureConnection' : 'connection', (s: net.Socket) =>
    s.on('data', (d: Buffer) => o.read.push(d)),
  )
  wss.on('connection', (ws, req) => {
    o.offers.push(req.headers['sec-websocket-extensions'])
    ws.on('error', () => {})
    ws.on('message', (data: RawData, binary: boolean) => {
      const text = String(data)
      o.messages.push(binary ? `binary ${text}` : text)
      if (text === 'fragments please') {
        ws.send('part one, ', { fin: false })
        ws.send('part two', { fin: true })
      } else if (text.startsWith('bomb ')) ws.send(Buffer.alloc(Number(text.slice(5))))
      else ws.send(`echo ${text}`)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  o.port = (server.address() as net.AddressInfo).port
  t.after(() => stopWebSocketServer(server, wss))
  return o
}

/** What the hook saw, as `direction text`. */
export const seenByHook: string[] = []

/**
 * rewriting: the client's `up:` messages uppercased, its `drop` messages
 * dropped, and `secret` hidden in what the server sends; everything else is
 * left as it is (the relay may then pass its compressed bytes on).
 */
export const rewriting: GatewayHooks = {
  onWebSocketMessage(_session, m) {
    if (m.type !== 'text') return undefined
    seenByHook.push(`${m.direction} ${m.data}`)
    if (m.direction === 'client') {
      if (m.data.startsWith('drop')) return DROP_MESSAGE
      if (m.data.startsWith('up:')) return m.data.toUpperCase()
      return undefined
    }
    return m.data.includes('secret') ? m.data.replaceAll('secret', '******') : undefined
  },
}

const line = 'the quick brown fox jumps over the lazy dog and the secret is 42'
/** Long enough for a 9-bit window to matter, and repeating what came before (context takeover refers back). */
const long = Array.from({ length: 40 }, (_, i) => `${line} #${i % 7}`).join('; ')

/** The conversation: unchanged, replaced and dropped messages mixed, each repeating earlier ones. */
export const conversation = [line, line, `up:${line}`, line, `drop ${line}`, long, `up:${long}`, line, long]

/** What the origin must read for `conversation` under `rewriting`. */
export const originExpects = conversation
  .filter((m) => !m.startsWith('drop'))
  .map((m) => (m.startsWith('up:') ? m.toUpperCase() : m))

/** What the client must read back: the origin's echoes, `secret` hidden (the uppercased ones keep SECRET). */
export const clientExpects = originExpects.map((m) => `echo ${m}`.replaceAll('secret', '******'))

/**
 * talk sends `messages` and resolves with the first `count` text messages
 * that come back; rejects if the connection closes first (a message that
 * did not inflate, say).
 */
export function talk(ws: WebSocket, messages: readonly string[], count: number): Promise<string[]> {
  const got: string[] = []
  return new Promise((resolve, reject) => {
    const onClose = (code: number) =>
      reject(new Error(`closed with ${code} after ${got.length} of ${count} messages`))
    const onMessage = (data: RawData) => {
      got.push(String(data))
      if (got.length === count) {
        ws.off('message', onMessage)
        ws.off('close', onClose)
        resolve(got)
      }
    }
    ws.on('message', onMessage)
    ws.once('close', onClose)
    for (const m of messages) ws.send(m)
  })
}

/** A frame head as read off the wire. */
export interface FrameHead {
  fin: boolean
  rsv1: boolean
  opcode: number
}

/**
 * frameHeads reads the frame heads in what a socket carried after its HTTP
 * head (the 101 or the upgrade request): one WebSocket direction, whole.
 */
export function frameHeads(chunks: readonly Buffer[]): FrameHead[] {
  const all = Buffer.concat(chunks)
  let at = all.indexOf('\r\n\r\n') + 4
  const out: FrameHead[] = []
  while (at + 2 <= all.length) {
    const b0 = all[at]!
    const b1 = all[at + 1]!
    let len = b1 & 0x7f
    let head = 2
    if (len === 126) {
      len = all.readUInt16BE(at + 2)
      head = 4
    } else if (len === 127) {
      len = Number(all.readBigUInt64BE(at + 2))
      head = 10
    }
    if (b1 & 0x80) head += 4
    out.push({ fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f })
    at += head + len
  }
  return out
}

/** dataFrames: the heads of text, binary and continuation frames. */
export function dataFrames(chunks: readonly Buffer[]): FrameHead[] {
  return frameHeads(chunks).filter((f) => f.opcode < 8)
}

export { WebSocket }
