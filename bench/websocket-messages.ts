/**
 * What the WebSocket message relay costs (src/proxy/websocket-relay.ts): the
 * same echo round trips through a gateway without `onWebSocketMessage` (the
 * byte pipe) and through one whose hook returns undefined (every frame read,
 * checked, re-framed, re-masked toward the origin). Client, gateways and
 * origin share this process, so the figure is process CPU per round trip;
 * the difference between the two is the relay's share. Rounds alternate.
 *
 * With DEFLATE=1, client and origin compress every message (permessage-
 * deflate, threshold 0, context takeover), and a third gateway's hook
 * replaces every message (so each is deflated anew, both ways): pipe, relay
 * (inflated for the hook, sent on with the bytes that came) and rewrite.
 *
 * Usage: [DEFLATE=1] node bench/websocket-messages.ts [MESSAGES=20000] [SIZE=64] [ROUNDS=5]
 */
import { once } from 'node:events'
import http from 'node:http'
import type net from 'node:net'
import { type RawData, WebSocket, WebSocketServer } from 'ws'
import type { WebSocketMessage } from '../src/core/hooks.ts'
import { createGateway, type Gateway } from '../src/index.ts'

const [messages = 20_000, size = 64, rounds = 5] = process.argv.slice(2).map(Number)
const deflate = process.env.DEFLATE === '1' ? { threshold: 0 } : false

const origin = http.createServer()
const wss = new WebSocketServer({ server: origin, perMessageDeflate: deflate })
wss.on('connection', (ws) => ws.on('message', (m: RawData, binary) => ws.send(m, { binary })))
await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
const target = `http://127.0.0.1:${(origin.address() as net.AddressInfo).port}`

/** rewrite swaps x and y in every text message: each is replaced, so each is deflated anew. */
function rewrite(_s: unknown, m: WebSocketMessage): string | undefined {
  return m.type === 'text'
    ? m.data[0] === 'x'
      ? m.data.replaceAll('x', 'y')
      : m.data.replaceAll('y', 'x')
    : undefined
}

async function gateway(hook: 'none' | 'pass' | 'rewrite'): Promise<{ gw: Gateway; port: number }> {
  const gw = await createGateway(
    {
      listen: [{ address: '127.0.0.1:0' }],
      upstreams: { o: { targets: [{ url: target }] } },
      routes: [{ upstream: 'o' }],
    },
    hook === 'none' ? {} : { hooks: { onWebSocketMessage: hook === 'pass' ? () => undefined : rewrite } },
  )
  await gw.listen()
  return { gw, port: gw.addresses()[0]!.port }
}

/** run sends `messages` text messages, at most 64 in flight, and returns process CPU µs per round trip. */
async function run(port: number): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: deflate })
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

const pipe = await gateway('none')
const relay = await gateway('pass')
const rewriting = deflate ? await gateway('rewrite') : undefined
const ratios: number[] = []
const extra: number[][] = [[], []]
await run(pipe.port) // warm-up
await run(relay.port)
if (rewriting) await run(rewriting.port)
for (let i = 0; i < rounds; i++) {
  const a = await run(pipe.port)
  const b = await run(relay.port)
  ratios.push(b / a)
  let line = `pipe ${a.toFixed(1)} us   relay ${b.toFixed(1)} us   relay/pipe ${(b / a).toFixed(3)}`
  extra[0]!.push(b - a)
  if (rewriting) {
    const c = await run(rewriting.port)
    extra[1]!.push(c - a)
    line += `   rewrite ${c.toFixed(1)} us   rewrite/pipe ${(c / a).toFixed(3)}`
  }
  console.log(line)
}
const median = (xs: number[]) => xs.toSorted((x, y) => x - y)[Math.floor(xs.length / 2)]!
console.log(
  `median relay/pipe ${median(ratios).toFixed(3)} over ${rounds} rounds (${messages} x ${size} B${deflate ? ', permessage-deflate' : ''})`,
)
// A round trip is two messages through the relay, one each way.
console.log(`median relay - pipe per message: ${(median(extra[0]!) / 2).toFixed(1)} us`)
if (rewriting) console.log(`median rewrite - pipe per message: ${(median(extra[1]!) / 2).toFixed(1)} us`)
await pipe.gw.close({ drainTimeout: 0 })
await relay.gw.close({ drainTimeout: 0 })
await rewriting?.gw.close({ drainTimeout: 0 })
for (const c of wss.clients) c.terminate()
origin.close()
