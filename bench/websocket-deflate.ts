/**
 * What permessage-deflate costs the WebSocket message relay per message
 * (src/proxy/websocket-deflate.ts), without sockets: CPU per inflate of a
 * message a `ws`-like sender compressed with context takeover (the relay's
 * work for every compressed message a hook reads), and per deflate (its work
 * for a replaced message, or any compressed message in a direction where one
 * was replaced). JSON-like messages that repeat each other, as a feed does.
 * The whole path, with sockets, is `DEFLATE=1 node bench/websocket-messages.ts`.
 *
 * Usage: node bench/websocket-deflate.ts [MESSAGES=2000] [SIZE=64] [ROUNDS=5]
 */
import zlib from 'node:zlib'
import { MessageDeflate } from '../src/proxy/websocket-deflate.ts'

const [count = 2000, size = 64, rounds = 5] = process.argv.slice(2).map(Number)

function message(i: number): Buffer {
  const head = `{"type":"quote","symbol":"ACME","seq":${i},"price":${100 + (i % 97) / 4},"pad":"`
  return Buffer.from(head + 'abcdefgh'.repeat(Math.max(0, Math.ceil((size - head.length - 2) / 8))) + '"}')
}

const messages = Array.from({ length: count }, (_, i) => message(i))
// The sender: one kept raw deflate stream, sync-flushed per message, the 00 00 ff ff tail removed.
const sender = zlib.createDeflateRaw({ windowBits: 15 })
const wire: Buffer[] = []
for (const m of messages) {
  const chunks: Buffer[] = []
  const onData = (c: Buffer) => chunks.push(c)
  sender.on('data', onData)
  sender.write(m)
  await new Promise<void>((r) => sender.flush(zlib.constants.Z_SYNC_FLUSH, () => r()))
  sender.off('data', onData)
  wire.push(Buffer.concat(chunks).subarray(0, -4))
}

function cpu(fn: () => void): number {
  const start = process.cpuUsage()
  fn()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / count
}

const inflates: number[] = []
const deflates: number[] = []
for (let round = 0; round <= rounds; round++) {
  const reader = new MessageDeflate(15, false, 1 << 24, 'client')
  const i = cpu(() => {
    for (const w of wire) reader.inflate(w)
  })
  const writer = new MessageDeflate(15, false, 1 << 24, 'server')
  const d = cpu(() => {
    for (const m of messages) writer.deflate(m)
  })
  if (round === 0) continue // warm-up
  inflates.push(i)
  deflates.push(d)
  console.log(`inflate ${i.toFixed(1)} us   deflate ${d.toFixed(1)} us`)
}
const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!
const compressed = wire.reduce((n, w) => n + w.length, 0) / count
console.log(
  `median per message of ${messages[0]!.length} B (${compressed.toFixed(0)} B compressed): ` +
    `inflate ${median(inflates).toFixed(1)} us, deflate ${median(deflates).toFixed(1)} us (${count} messages, ${rounds} rounds)`,
)
