/**
 * What the WebSocket message relay costs (src/proxy/websocket-relay.ts): the
 * same echo round trips through a gateway without `onWebSocketMessage` (the
 * byte pipe) and through one whose hook returns undefined (every frame read,
 * checked, re-framed, re-masked toward the origin). Client, gateways and
 * origin share this process, so the figure is process CPU per round trip;
 * the difference between the two is the relay's share. Rounds alternate.
 *
 * Usage: node bench/websocket-messages.ts [MESSAGES=20000] [SIZE=64] [ROUNDS=5]
 */
import { once } from 'node:events'
import http from 'node:http'
import type net from 'node:net'
import { type RawData, WebSocket, WebSocketServer } from 'ws'
import { createGateway, type Gateway } from '../src/index.ts'

const [messages = 20_000, size = 64, rounds = 5] = process.argv.slice(2).map(Number)

const origin = http.createServer()
const wss = new WebSocketServer({ server: origin, perMessageDeflate: false })
wss.on('connection', (ws) => ws.on('message', (m: RawData, binary) => ws.send(m, { binary })))
await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
const target = `http://127.0.0.1:${(origin.address() as net.AddressInfo).port}`

async function gateway(withHook: boolean): Promise<{ gw: Gateway; port: number }> {
  const gw = await createGateway(
    {
      listen: [{ address: '127.0.0.1:0' }],
      upstreams: { o: { targets: [{ url: target }] } },
      routes: [{ upstream: 'o' }],
    },
    withHook ? { hooks: { onWebSocketMessage: () => undefined } } : {},
  )
  await gw.listen()
  return { gw, port: gw.addresses()[0]!.port }
}

/** run sends `messages` text messages, at most 64 in flight, and returns process CPU µs per round trip. */
async function run(port: number): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false })
  await once(ws, 'open')
  const payload = 'x'.repeat(size)
  const start = process.cpuUsage()
  let sent = 0
  let got = 0
  await new Promise<void>((resolve) => {
    const send = () => {
      while (sent < messages && sent - got < 64) {
        ws.send(payload)
        sent++
      }
    }
    ws.on('message', () => {
      if (++got === messages) resolve()
      else send()
    })
    send()
  })
  const used = process.cpuUsage(start)
  ws.terminate()
  return (used.user + used.system) / messages
}

const pipe = await gateway(false)
const relay = await gateway(true)
const ratios: number[] = []
await run(pipe.port) // warm-up
await run(relay.port)
for (let i = 0; i < rounds; i++) {
  const a = await run(pipe.port)
  const b = await run(relay.port)
  ratios.push(b / a)
  console.log(`pipe ${a.toFixed(1)} us   relay ${b.toFixed(1)} us   relay/pipe ${(b / a).toFixed(3)}`)
}
ratios.sort((x, y) => x - y)
console.log(
  `median relay/pipe ${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)} over ${rounds} rounds (${messages} x ${size} B)`,
)
await pipe.gw.close({ drainTimeout: 0 })
await relay.gw.close({ drainTimeout: 0 })
for (const c of wss.clients) c.terminate()
origin.close()
