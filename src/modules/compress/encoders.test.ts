import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Transform } from 'node:stream'
import { describe, it } from 'node:test'
import zlib from 'node:zlib'
import { availableEncodings, createEncoder, zstdAvailable } from './encoders.ts'
import type { Encoding } from '../../config/modules/compress.ts'

const LEVEL = { gzip: 6, brotli: 4, zstd: 3 }
const decode: Record<Encoding, (b: Buffer) => Buffer> = {
  gzip: (b) => zlib.gunzipSync(b),
  br: (b) => zlib.brotliDecompressSync(b),
  zstd: (b) => zlib.zstdDecompressSync(b),
}

/** run writes `body` in 1000-byte pieces and collects the output. */
async function run(t: Transform, body: Buffer): Promise<Buffer> {
  const out: Buffer[] = []
  t.on('data', (d: Buffer) => out.push(d))
  const ended = new Promise((resolve, reject) => {
    t.once('end', resolve)
    t.once('error', reject)
  })
  for (let i = 0; i < body.length; i += 1000) t.write(body.subarray(i, i + 1000))
  t.end()
  await ended
  return Buffer.concat(out)
}

describe('createEncoder', () => {
  const text = Buffer.from(randomBytes(60_000).toString('hex'))
  for (const coding of availableEncodings(['br', 'zstd', 'gzip'])) {
    for (const length of [0, 100, 5000, 120_000]) {
      it(`${coding}: a ${length}-byte body of known length decodes to itself`, async () => {
        const body = text.subarray(0, length)
        assert.deepEqual(decode[coding](await run(createEncoder(coding, LEVEL, length, false), body)), body)
      })
    }
    it(`${coding}: a body of unknown length decodes to itself`, async () => {
      assert.deepEqual(decode[coding](await run(createEncoder(coding, LEVEL, -1, false), text)), text)
    })
    it(`${coding}: with a flush per chunk, each write is decodable at once`, async () => {
      const enc = createEncoder(coding, LEVEL, -1, true)
      const out: Buffer[] = []
      enc.on('data', (d: Buffer) => out.push(d))
      enc.write('data: one\n\n')
      await new Promise((r) => setTimeout(r, 50))
      const partial = Buffer.concat(out)
      const dec =
        coding === 'gzip'
          ? zlib.createGunzip()
          : coding === 'br'
            ? zlib.createBrotliDecompress()
            : zlib.createZstdDecompress()
      const got = await new Promise<string>((resolve) => {
        dec.once('data', (d: Buffer) => resolve(d.toString()))
        dec.write(partial)
      })
      assert.equal(got, 'data: one\n\n')
      dec.destroy()
      enc.destroy()
    })
  }
})

describe('availableEncodings', () => {
  it('keeps zstd only when this Node has it', () => {
    assert.deepEqual(availableEncodings(['zstd', 'gzip']), zstdAvailable ? ['zstd', 'gzip'] : ['gzip'])
  })
})
