/**
 * onWebSocketMessage over real sockets, reverse-proxied: a `ws` origin (with
 * permessage-deflate on, so its messages come compressed and are inflated for
 * the hook; websocket-deflate.test.ts goes further), `ws` clients and a
 * raw-socket client for frames `ws` would never send. Text rewritten both
 * ways, fragmented messages seen whole, binary, ping/pong and a ping between
 * fragments passing, a dropped message, async hooks keeping order, and the
 * closes: 1009 over the cap, 1002 for an unmasked client frame, 1007 for
 * text that is not UTF-8, 1011 when a hook throws. Without a hook the
 * upgrade is the byte pipe it was: the extension is negotiated end to end.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { type RawData, WebSocket, WebSocketServer } from 'ws'
import { DROP_MESSAGE, type GatewayHooks, type WebSocketMessage } from '../../src/core/hooks.ts'
import type { Session } from '../../src/core/session.ts'
import {
  type GatewayHandle,
  proxyConfig,
  startGateway,
  waitFor,
  waitForGatewayIdle,
} from '../helpers/gateway.ts'
import { rawUpgrade } from '../helpers/websocket.ts'

let origin: http.Server
let wss: WebSocketServer
let originUrl: string
/** The upgrade requests' Sec-WebSocket-Extensions as the origin got them. */
const offered: (string | undefined)[] = []
/** Messages as the hooks saw them. */
const seen: { direction: string; type: string; data: string }[] = []
const logs: Session[] = []
/** Per origin connection, what its WebSocket saw: `message TEXT`, `close CODE`. */
const originEvents: string[][] = []
let gw: GatewayHandle
let plain: GatewayHandle

const hooks: GatewayHooks = {
  async onWebSocketMessage(session, m: WebSocketMessage) {
    seen.push({
      direction: m.direction,
      type: m.type,
      data: m.type === 'text' ? m.data : m.data.toString('hex'),
    })
    if (m.type === 'binary') return Buffer.from(m.data).reverse()
    if (m.data === 'drop me') return DROP_MESSAGE
    if (m.data === 'throw') throw new Error('hook bug')
    if (m.data.startsWith('slow')) await new Promise((r) => setTimeout(r, Number(m.data.slice(4)) % 7))
    if (m.direction === 'client') return m.data.toUpperCase()
    return `${m.data} [seen by ${session.source}]`
  },
  onLog: (s) => void logs.push(s),
}

before(async () => {
  origin = http.createServer((_req, res) => res.end('plain'))
  wss = new WebSocketServer({ server: origin, perMessageDeflate: { threshold: 0 } })
  wss.on('connection', (ws, req) => {
    offered.push(req.headers['sec-websocket-extensions'])
    const events: string[] = []
    originEvents.push(events)
    ws.on('error', () => {})
    ws.on('close', (code) => events.push(`close ${code}`))
    ws.on('message', (data: RawData, binary: boolean) => {
      const text = String(data)
      events.push(`message ${text}`)
      if (binary) ws.send(data, { binary: true })
      else if (text === 'FRAGMENTS') {
        ws.send('one ', { fin: false })
        ws.send('two', { fin: true })
      } else ws.send(`echo ${text}`)
    })
  })
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
  originUrl = `http://127.0.0.1:${(origin.address() as net.AddressInfo).port}`
  gw = await startGateway(proxyConfig(originUrl), { hooks })
  plain = await startGateway(proxyConfig(originUrl))
})

after(async () => {
  for (const c of wss.clients) c.terminate()
  await gw.close()
  await plain.close()
  wss.close()
  origin.closeAllConnections()
  await new Promise((r) => origin.close(r))
})

async function connect(base = gw): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${base.port}/chat`, { perMessageDeflate: true })
  ws.on('error', () => {})
  await once(ws, 'open')
  return ws
}

function next(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) =>
    ws.once('message', (data: RawData, binary) => resolve({ data: data as Buffer, binary })),
  )
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code: number) => resolve(code)))
}

describe('onWebSocketMessage (reverse proxy)', () => {
  it('rewrites text both ways; permessage-deflate is still agreed end to end', async () => {
    const ws = await connect()
    try {
      assert.match(ws.extensions, /^permessage-deflate/)
      assert.match(offered.at(-1) ?? '', /^permessage-deflate/)
      const reply = next(ws)
      ws.send('hello')
      const m = await reply
      assert.equal(m.binary, false)
      assert.equal(String(m.data), 'echo HELLO [seen by reverse]')
      assert.deepEqual(seen.slice(-2), [
        { direction: 'client', type: 'text', data: 'hello' },
        { direction: 'server', type: 'text', data: 'echo HELLO' },
      ])
    } finally {
      ws.terminate()
    }
  })

  it('without a hook the upgrade stays a byte pipe: permessage-deflate is negotiated end to end', async () => {
    const ws = await connect(plain)
    try {
      assert.match(ws.extensions, /permessage-deflate/)
      assert.match(offered.at(-1) ?? '', /permessage-deflate/)
      const reply = next(ws)
      ws.send('hello')
      assert.equal(String((await reply).data), 'echo hello')
    } finally {
      ws.terminate()
    }
  })

  it('sees fragmented messages whole, both ways, with a ping between fragments passed on', async () => {
    const ws = await connect()
    try {
      const pong = once(ws, 'pong')
      let reply = next(ws)
      ws.send('frag', { fin: false })
      ws.ping('between')
      ws.send('ments', { fin: true })
      assert.equal(String((await pong)[0]), 'between')
      assert.equal(String((await reply).data), 'one two [seen by reverse]')
      assert.deepEqual(
        seen.slice(-2).map((s) => s.data),
        ['fragments', 'one two'],
      )
      reply = next(ws)
      ws.send('after')
      assert.equal(String((await reply).data), 'echo AFTER [seen by reverse]')
    } finally {
      ws.terminate()
    }
  })

  it('hands binary messages over as Buffers; a Buffer returned is sent binary', async () => {
    const ws = await connect()
    try {
      const reply = next(ws)
      ws.send(Buffer.from([1, 2, 3, 0xff]))
      const m = await reply
      assert.equal(m.binary, true)
      // Reversed going up, echoed, reversed coming down: the original bytes.
      assert.deepEqual([...m.data], [1, 2, 3, 0xff])
      assert.deepEqual(seen.slice(-2), [
        { direction: 'client', type: 'binary', data: '010203ff' },
        { direction: 'server', type: 'binary', data: 'ff030201' },
      ])
    } finally {
      ws.terminate()
    }
  })

  it('reads a message larger than a socket read, up to the cap', async () => {
    const ws = await connect()
    try {
      const big = Buffer.alloc(1024 * 1024, 7)
      big[0] = 1
      const reply = next(ws)
      ws.send(big)
      const m = await reply
      assert.equal(m.data.length, big.length)
      assert.ok(m.data.equals(big))
    } finally {
      ws.terminate()
    }
  })

  it('passes ping and pong; drops a message a hook drops', async () => {
    const ws = await connect()
    try {
      const pong = once(ws, 'pong')
      ws.ping('are you there')
      assert.equal(String((await pong)[0]), 'are you there')
      const reply = next(ws)
      ws.send('drop me')
      ws.send('kept')
      assert.equal(String((await reply).data), 'echo KEPT [seen by reverse]')
    } finally {
      ws.terminate()
    }
  })

  it('keeps order per direction while hooks await', async () => {
    const ws = await connect()
    try {
      const count = 60
      const got: string[] = []
      const all = new Promise<void>((resolve) =>
        ws.on('message', (data: RawData) => {
          got.push(String(data))
          if (got.length === count) resolve()
        }),
      )
      for (let i = 0; i < count; i++) ws.send(`slow${i}`)
      await all
      assert.deepEqual(
        got,
        Array.from({ length: count }, (_, i) => `echo SLOW${i} [seen by reverse]`),
      )
    } finally {
      ws.terminate()
    }
  })

  it('a client that half-closes right after its Close frame: what waited on a hook still arrives first', async () => {
    const s = await rawUpgrade(gw.port)
    try {
      const close = Buffer.from([0x03, 0xe8]) // 1000
      s.end(Buffer.concat([maskedFrame(0x1, Buffer.from('slow5')), maskedFrame(0x8, close)]))
      await waitFor(() => originEvents.at(-1)?.length === 2, 'the origin saw the message and the close')
      assert.deepEqual(originEvents.at(-1), ['message SLOW5', 'close 1000'])
    } finally {
      s.destroy()
    }
  })

  it('closes with 1009 when a message is over limits.maxWebSocketMessage (1 MiB by default), even in fragments', async () => {
    for (const send of [
      (ws: WebSocket) => ws.send('x'.repeat(1024 * 1024 + 1)),
      (ws: WebSocket) => {
        ws.send('x'.repeat(600 * 1024), { fin: false })
        ws.send('x'.repeat(600 * 1024), { fin: true })
      },
    ]) {
      const ws = await connect()
      const code = closed(ws)
      send(ws)
      assert.equal(await code, 1009)
    }
    await waitFor(
      () => logs.filter((s) => s.error?.code === 'WEBSOCKET_MESSAGE_TOO_LARGE').length === 2,
      'two sessions logged WEBSOCKET_MESSAGE_TOO_LARGE',
    )
  })

  it('closes with 1011 when a hook throws', async () => {
    const ws = await connect()
    const code = closed(ws)
    ws.send('throw')
    assert.equal(await code, 1011)
    await waitFor(() => logs.some((s) => s.error?.code === 'HOOK_FAILED'), 'HOOK_FAILED logged')
  })

  it('closes with 1002 on an unmasked client frame and 1007 on text that is not UTF-8', async () => {
    assert.equal(await rawFrameClose(gw.port, Buffer.from([0x81, 0x02, 0x68, 0x69])), 1002)
    assert.equal(await rawFrameClose(gw.port, maskedFrame(0x1, Buffer.from([0xc3, 0x28]))), 1007)
    // Reserved opcode 3.
    assert.equal(await rawFrameClose(gw.port, maskedFrame(0x3, Buffer.from('x'))), 1002)
    await waitFor(
      () => logs.some((s) => s.error?.code === 'WEBSOCKET_PROTOCOL_ERROR'),
      'protocol error logged',
    )
    // Every relayed connection, closed by either side, is gone: nothing leaks.
    await waitForGatewayIdle(gw.gw, { poolsEmpty: true })
  })
})

describe('onWebSocketMessage: several hooks', () => {
  it('run in order, each seeing what the one before left; a result of another kind closes with 1011', async (t) => {
    const chain: GatewayHooks[] = [
      {
        async onWebSocketMessage(_s, m) {
          await new Promise((r) => setTimeout(r, 1))
          if (m.direction === 'client' && m.type === 'text') return `${m.data}+async`
        },
      },
      {
        onWebSocketMessage(_s, m) {
          if (m.direction !== 'client' || m.type !== 'text') return undefined
          if (m.data.startsWith('number')) return 42 as never
          return `${m.data}+sync`
        },
      },
    ]
    const two = await startGateway(proxyConfig(originUrl), { hooks: chain, t })
    const ws = new WebSocket(`ws://127.0.0.1:${two.port}/`)
    ws.on('error', () => {})
    await once(ws, 'open')
    const reply = next(ws)
    ws.send('a')
    assert.equal(String((await reply).data), 'echo a+async+sync')
    const code = closed(ws)
    ws.send('number please')
    assert.equal(await code, 1011)
    await waitForGatewayIdle(two.gw, { poolsEmpty: true })
  })
})

describe('onWebSocketMessage: an origin that breaks RFC 6455', () => {
  it('closes the client with 1002 when the origin sends a masked frame', async (t) => {
    // A raw origin: a correct 101, then a masked frame, which a server must never send (§5.1).
    const origin = net.createServer((s) => {
      s.once('data', (head: Buffer) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(String(head))![1]!
        const accept = createHash('sha1')
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64')
        s.write(
          'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
            `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
        )
        s.write(maskedFrame(0x1, Buffer.from('bad')))
      })
      s.on('error', () => {})
    })
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
    t.after(() => new Promise<void>((r) => origin.close(() => r())))
    const port = (origin.address() as net.AddressInfo).port
    const bad = await startGateway(proxyConfig(`http://127.0.0.1:${port}`), { hooks, t })
    const ws = new WebSocket(`ws://127.0.0.1:${bad.port}/`)
    ws.on('error', () => {})
    assert.equal(await closed(ws), 1002)
    await waitForGatewayIdle(bad.gw, { poolsEmpty: true })
  })
})

function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const key = Buffer.from([0x11, 0x22, 0x33, 0x44])
  const body = Buffer.from(payload.map((b, i) => b ^ key[i & 3]!))
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), key, body])
}

/** rawFrameClose upgrades a raw socket, sends `frame`, and returns the code of the Close frame it gets back. */
async function rawFrameClose(port: number, frame: Buffer): Promise<number> {
  const s = await rawUpgrade(port)
  try {
    let buf = s.rest
    s.write(frame)
    while (buf.length < 4) {
      const [chunk] = (await once(s, 'data')) as [Buffer]
      buf = Buffer.concat([buf, chunk])
    }
    assert.equal(buf[0], 0x88, 'a Close frame')
    return buf.readUInt16BE(2)
  } finally {
    s.destroy()
  }
}
