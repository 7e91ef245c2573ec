import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import zlib from 'node:zlib'
import { MessageDeflate } from './websocket-deflate.ts'
import { FrameError } from './websocket-frames.ts'

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff])

/** A sender as RFC 7692 §7.2.1 says: one kept raw deflate stream, sync-flushed per message, tail removed. */
async function sender(windowBits: number, messages: Buffer[], reset = false): Promise<Buffer[]> {
  let d = zlib.createDeflateRaw({ windowBits })
  const out: Buffer[] = []
  for (const m of messages) {
    const chunks: Buffer[] = []
    const onData = (c: Buffer) => chunks.push(c)
    d.on('data', onData)
    d.write(m)
    await new Promise<void>((r) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => r()))
    d.off('data', onData)
    const all = Buffer.concat(chunks)
    assert.deepEqual(all.subarray(-4), TAIL)
    out.push(all.subarray(0, -4))
    if (reset) d = zlib.createDeflateRaw({ windowBits })
  }
  return out
}

/** receiver inflates as a peer keeping its context does (one kept inflate stream). */
function receiver(windowBits: number): (payload: Buffer) => Promise<Buffer> {
  const inf = zlib.createInflateRaw({ windowBits })
  return async (payload) => {
    const chunks: Buffer[] = []
    const onData = (c: Buffer) => chunks.push(c)
    inf.on('data', onData)
    inf.write(Buffer.concat([payload, TAIL]))
    await new Promise<void>((r) => inf.flush(zlib.constants.Z_SYNC_FLUSH, () => r()))
    inf.off('data', onData)
    return Buffer.concat(chunks)
  }
}

function closeCode(fn: () => unknown): number {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof FrameError, String(err))
    return err.closeCode
  }
  return 0
}

// Later messages repeat earlier ones, so a sender keeping its context refers back to them.
const messages = [
  Buffer.from('{"type":"quote","symbol":"ACME","price":101.25}'),
  Buffer.from('{"type":"quote","symbol":"ACME","price":101.5}'),
  Buffer.alloc(40_000, 'abcdefgh'),
  Buffer.from('{"type":"quote","symbol":"ACME","price":101.75} abcdefghabcdefgh'),
  Buffer.alloc(0),
  Buffer.from('{"type":"quote","symbol":"ACME","price":102}'),
]

describe('MessageDeflate (RFC 7692 §7.2)', () => {
  for (const windowBits of [15, 10, 8]) {
    it(`inflates a sender that keeps its context (window bits ${windowBits}), message after message`, async () => {
      const wire = await sender(windowBits, messages)
      const md = new MessageDeflate(windowBits, false, 1 << 20, 'client')
      for (let i = 0; i < messages.length; i++)
        assert.ok(md.inflate(wire[i]!).equals(messages[i]!), `message ${i}`)
      assert.equal(md.keepsOriginal, true)
      md.diverge()
      assert.equal(md.keepsOriginal, false, 'after a replaced message the sender’s bytes cannot pass')
    })

    it(`deflates for a receiver keeping its context with a ${windowBits}-bit window`, async () => {
      const md = new MessageDeflate(windowBits, false, 1 << 20, 'server')
      const inflate = receiver(windowBits)
      for (const m of messages) assert.ok((await inflate(md.deflate(m))).equals(m))
    })
  }

  for (const windowBits of [15, 9, 8]) {
    it(`mixes messages passed as they came and deflated anew for one receiver (${windowBits} bits)`, async () => {
      const wire = await sender(windowBits, [...messages, ...messages])
      const md = new MessageDeflate(windowBits, false, 1 << 20, 'client')
      const inflate = receiver(windowBits)
      for (let i = 0; i < wire.length; i++) {
        const plain = md.inflate(wire[i]!)
        const original = Buffer.from(plain)
        let out: Buffer
        let expected: Buffer
        if (i % 4 === 2) {
          md.diverge()
          expected = Buffer.concat([Buffer.from('replaced: '), original])
          out = md.deflate(expected)
        } else if (md.keepsOriginal) [out, expected] = [wire[i]!, original]
        else [out, expected] = [md.deflate(plain), original]
        assert.ok((await inflate(out)).equals(expected), `message ${i}`)
      }
    })
  }

  it('deflating, refers back to what the receiver has, unless context takeover is off', () => {
    const m = Buffer.from('{"type":"quote","symbol":"ACME","price":101.25}')
    const keeps = new MessageDeflate(15, false, 1 << 20, 'server')
    const alone = keeps.deflate(m).length
    assert.ok(keeps.deflate(m).length < alone / 2, 'the second time it is mostly a reference')
    const resets = new MessageDeflate(15, true, 1 << 20, 'server')
    resets.deflate(m)
    assert.equal(resets.deflate(m).length, alone)
  })

  it('with no context takeover, each message inflates alone and may always keep its bytes', async () => {
    const wire = await sender(15, messages, true)
    const md = new MessageDeflate(15, true, 1 << 20, 'server')
    md.diverge()
    assert.equal(md.keepsOriginal, true)
    for (let i = messages.length - 1; i >= 0; i--) assert.ok(md.inflate(wire[i]!).equals(messages[i]!))
  })

  it('a message that inflates past the cap is a 1009, found without inflating it whole', async () => {
    // 64 MiB of zeros compress to about 64 KiB; the cap is 1 MiB.
    const [bomb] = await sender(15, [Buffer.alloc(64 << 20)])
    const md = new MessageDeflate(15, false, 1 << 20, 'client')
    const before = process.memoryUsage().arrayBuffers
    assert.equal(
      closeCode(() => md.inflate(bomb!)),
      1009,
    )
    assert.ok(process.memoryUsage().arrayBuffers - before < 32 << 20, 'not inflated whole')
    // Exactly the cap passes.
    const [exact] = await sender(15, [Buffer.alloc(1 << 20, 'a')])
    assert.equal(new MessageDeflate(15, false, 1 << 20, 'client').inflate(exact!).length, 1 << 20)
  })

  it('data that does not inflate is a 1007', () => {
    const md = new MessageDeflate(15, false, 1 << 20, 'client')
    // BTYPE 11 is reserved (RFC 1951 §3.2.3).
    assert.equal(
      closeCode(() => md.inflate(Buffer.from([0xff, 0xff, 0xff]))),
      1007,
    )
  })
})
