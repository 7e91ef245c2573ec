/**
 * permessage-deflate (RFC 7692) through the WebSocket message relay,
 * reverse-proxied, over real sockets: `ws` origins and clients compressing
 * every message, a hook that rewrites, drops and leaves messages as they are.
 * The agreement reaches both ends, the bytes on both legs are compressed,
 * every message arrives as the hook left it, with context takeover and
 * without, with small windows (8 and 9 bits) too; fragments of a compressed
 * message are joined for the hook; a message that inflates past the cap
 * closes with 1009 from either side; bad compressed data is a 1007, RSV1 on a
 * control frame a 1002, and an origin agreeing to an extension the relay
 * cannot read a 1002.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import net from 'node:net'
import { describe, it } from 'node:test'
import zlib from 'node:zlib'
import type { PerMessageDeflateOptions } from 'ws'
import type { Session } from '../../src/core/session.ts'
import { type Cleanup, proxyConfig, startGateway, waitFor, waitForGatewayIdle } from '../helpers/gateway.ts'
import {
  clientExpects,
  conversation,
  dataFrames,
  echoOrigin,
  originExpects,
  rewriting,
  seenByHook,
  talk,
  WebSocket,
} from '../helpers/websocket-deflate.ts'
import { rawUpgrade } from '../helpers/websocket.ts'

/** client opens a compressing `ws` client through the gateway; `read` gets what its socket reads. */
async function client(
  t: Cleanup,
  port: number,
  deflate: PerMessageDeflateOptions = {},
): Promise<{ ws: WebSocket; read: Buffer[] }> {
  const read: Buffer[] = []
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, {
    perMessageDeflate: { threshold: 0, ...deflate },
    createConnection: () => {
      const s = net.connect(port, '127.0.0.1')
      s.on('data', (d: Buffer) => read.push(d))
      return s
    },
  })
  ws.on('error', () => {})
  t.after(() => ws.terminate())
  await once(ws, 'open')
  return { ws, read }
}

/** agreement is the Sec-WebSocket-Extensions of the 101 a client read. */
function agreement(read: readonly Buffer[]): string {
  const head = String(Buffer.concat(read)).split('\r\n\r\n')[0]!
  return /^sec-websocket-extensions: *(.*)$/im.exec(head)?.[1] ?? ''
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code: number) => resolve(code)))
}

const cases: {
  name: string
  origin: PerMessageDeflateOptions
  client: PerMessageDeflateOptions
  agreed: RegExp
}[] = [
  { name: 'context takeover both ways', origin: {}, client: {}, agreed: /^permessage-deflate$/ },
  {
    name: 'no context takeover either way',
    origin: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    client: {},
    agreed:
      /server_no_context_takeover.*client_no_context_takeover|client_no_context_takeover.*server_no_context_takeover/,
  },
  {
    name: 'windows of 8 bits from the server and 9 from the client',
    origin: {},
    client: { serverMaxWindowBits: 8, clientMaxWindowBits: 9 },
    agreed:
      /server_max_window_bits=8.*client_max_window_bits=9|client_max_window_bits=9.*server_max_window_bits=8/,
  },
]

describe('permessage-deflate through onWebSocketMessage (reverse proxy)', () => {
  for (const c of cases) {
    it(`keeps compression and rewrites messages: ${c.name}`, async (t) => {
      const origin = await echoOrigin(t, c.origin)
      const gw = await startGateway(proxyConfig(`http://127.0.0.1:${origin.port}`), { hooks: rewriting, t })
      const { ws, read } = await client(t, gw.port, c.client)
      assert.match(agreement(read), c.agreed, 'the origin’s agreement reached the client')
      assert.equal(ws.extensions, 'permessage-deflate')
      assert.match(origin.offers[0] ?? '', /^permessage-deflate/, 'the client’s offer reached the origin')
      seenByHook.length = 0
      // Twice: the second round's messages refer back to the first's (context takeover).
      for (let round = 0; round < 2; round++) {
        assert.deepEqual(await talk(ws, conversation, clientExpects.length), clientExpects)
      }
      assert.deepEqual(origin.messages, [...originExpects, ...originExpects])
      assert.ok(seenByHook.includes(`client ${conversation[2]}`), 'the hook saw the text inflated')
      // Every data frame on both legs was compressed: RSV1 set.
      const toClient = dataFrames(read)
      const toOrigin = dataFrames(origin.read)
      assert.equal(toClient.length, clientExpects.length * 2)
      assert.equal(toOrigin.length, originExpects.length * 2)
      assert.ok([...toClient, ...toOrigin].every((f) => f.rsv1 && f.fin))
    })
  }

  it('joins the fragments of a compressed message (RSV1 on the first only), both ways', async (t) => {
    const origin = await echoOrigin(t, {})
    const gw = await startGateway(proxyConfig(`http://127.0.0.1:${origin.port}`), { hooks: rewriting, t })
    const { ws, read } = await client(t, gw.port)
    seenByHook.length = 0
    const replies = talk(ws, [], 2)
    ws.send('up:frag one, ', { fin: false })
    ws.send('frag two', { fin: true })
    ws.send('fragments please')
    assert.deepEqual(await replies, ['echo UP:FRAG ONE, FRAG TWO', 'part one, part two'])
    assert.deepEqual(seenByHook.toSorted(), [
      'client fragments please',
      'client up:frag one, frag two',
      'server echo UP:FRAG ONE, FRAG TWO',
      'server part one, part two',
    ])
    assert.deepEqual(origin.messages, ['UP:FRAG ONE, FRAG TWO', 'fragments please'])
    // Sent on as one compressed frame each.
    assert.deepEqual(
      dataFrames(read).map((f) => [f.fin, f.rsv1]),
      [
        [true, true],
        [true, true],
      ],
    )
  })

  it('closes with 1009 when a message inflates past limits.maxWebSocketMessage, from either side', async (t) => {
    const origin = await echoOrigin(t, {})
    const logs: Session[] = []
    const gw = await startGateway(
      { ...proxyConfig(`http://127.0.0.1:${origin.port}`), limits: { maxWebSocketMessage: '64kb' } },
      { hooks: [rewriting, { onLog: (s) => void logs.push(s) }], t },
    )
    // 8 MiB of one letter compresses to about 8 KiB: the frame is far under the cap, what it inflates to is not.
    const up = await client(t, gw.port)
    const code = closed(up.ws)
    up.ws.send('x'.repeat(8 << 20))
    assert.equal(await code, 1009)
    const down = await client(t, gw.port)
    const downCode = closed(down.ws)
    down.ws.send(`bomb ${8 << 20}`)
    assert.equal(await downCode, 1009)
    assert.deepEqual(origin.messages, [`bomb ${8 << 20}`], 'the client’s bomb never reached the origin')
    await waitFor(
      () => logs.filter((s) => s.error?.code === 'WEBSOCKET_MESSAGE_TOO_LARGE').length === 2,
      'both logged WEBSOCKET_MESSAGE_TOO_LARGE',
    )
    await waitForGatewayIdle(gw.gw, { poolsEmpty: true })
  })

  it('closes with 1007 on data that does not inflate and 1002 on RSV1 where RFC 7692 forbids it', async (t) => {
    const origin = await echoOrigin(t, {})
    const gw = await startGateway(proxyConfig(`http://127.0.0.1:${origin.port}`), { hooks: rewriting, t })
    // BTYPE 11 is reserved (RFC 1951 §3.2.3): not deflate data.
    assert.equal(await rawClose(gw.port, maskedFrame(0x1, Buffer.from([0xff, 0xff]), true)), 1007)
    assert.equal(await rawClose(gw.port, maskedFrame(0x9, Buffer.from('ping'), true)), 1002)
    // A compressed message that inflates right passes.
    const ok = await rawUpgrade(gw.port, 'permessage-deflate')
    const hello = zlib.deflateRawSync('hello', { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4)
    ok.write(maskedFrame(0x1, hello, true))
    await waitFor(() => origin.messages.includes('hello'), 'the origin got hello')
    ok.destroy()
    await waitForGatewayIdle(gw.gw, { poolsEmpty: true })
  })

  it('closes with 1002 when the origin agrees to an extension the relay cannot read', async (t) => {
    // A raw origin answering a 101 with an extension nobody offered.
    const origin = net.createServer((s) => {
      s.on('error', () => {})
      s.once('data', (head: Buffer) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(String(head))![1]!
        const accept = createHash('sha1')
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64')
        s.write(
          'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
            `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: x-webkit-deflate-frame\r\n\r\n`,
        )
      })
    })
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
    t.after(() => new Promise<void>((r) => origin.close(() => r())))
    const port = (origin.address() as net.AddressInfo).port
    const gw = await startGateway(proxyConfig(`http://127.0.0.1:${port}`), { hooks: rewriting, t })
    const s = await rawUpgrade(gw.port, 'permessage-deflate')
    assert.equal(await closeCode(s), 1002)
    s.destroy()
    await waitForGatewayIdle(gw.gw, { poolsEmpty: true })
  })
})

function maskedFrame(opcode: number, payload: Buffer, rsv1 = false): Buffer {
  const key = Buffer.from([0x11, 0x22, 0x33, 0x44])
  const body = Buffer.from(payload.map((b, i) => b ^ key[i & 3]!))
  return Buffer.concat([Buffer.from([(rsv1 ? 0xc0 : 0x80) | opcode, 0x80 | payload.length]), key, body])
}

/** closeCode reads on until a Close frame and returns its code. */
async function closeCode(s: net.Socket & { rest: Buffer }): Promise<number> {
  let buf = s.rest
  while (buf.length < 4) {
    const [chunk] = (await once(s, 'data')) as [Buffer]
    buf = Buffer.concat([buf, chunk])
  }
  assert.equal(buf[0], 0x88, 'a Close frame')
  return buf.readUInt16BE(2)
}

async function rawClose(port: number, frame: Buffer): Promise<number> {
  const s = await rawUpgrade(port, 'permessage-deflate')
  try {
    s.write(frame)
    return await closeCode(s)
  } finally {
    s.destroy()
  }
}
