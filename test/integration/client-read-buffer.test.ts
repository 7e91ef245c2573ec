/**
 * Plain-TCP client connections read into one reused buffer (ReadBuffer,
 * server/own-read.ts): these tests make every consumer keep a view of a
 * client read past its callback (a write queued on a slow origin, a head
 * split across reads, a body held while a hook runs, a pipelined request
 * waiting its turn, a tunnel) and check that the origin receives every byte
 * as sent, none overwritten by the next read.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it, type TestContext } from 'node:test'
import { dechunk, proxyConfig, startGateway, startOrigin } from '../helpers/gateway.ts'

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/**
 * startSlowOrigin answers each request with the SHA-256 of its body, after
 * reading it slowly: it stops 1 ms after every 48 KiB, so the gateway's
 * writes to it often stay partly queued and keep views of the client's reads.
 */
async function startSlowOrigin(t: TestContext): Promise<{ port: number; url: string }> {
  const server = net.createServer((sock) => {
    let data = Buffer.alloc(0)
    let sincePause = 0
    sock.on('error', () => {})
    sock.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk])
      sincePause += chunk.length
      if (sincePause >= 48 * 1024) {
        sincePause = 0
        sock.pause()
        setTimeout(() => sock.resume(), 1)
      }
      const end = data.indexOf('\r\n\r\n')
      if (end === -1) return
      const head = data.toString('latin1', 0, end)
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)
      let body: Buffer
      if (length !== null) {
        if (data.length < end + 4 + Number(length[1])) return
        body = data.subarray(end + 4, end + 4 + Number(length[1]))
      } else {
        if (!data.subarray(-5).equals(Buffer.from('0\r\n\r\n'))) return
        // Bytes overwritten in transit show as broken framing.
        const r = dechunk(data, end + 4)
        body = r.complete ? r.body : Buffer.from('unframed')
      }
      const answer = `${body.length} ${sha256(body)}`
      sock.end(`HTTP/1.1 200 OK\r\nContent-Length: ${answer.length}\r\nConnection: close\r\n\r\n${answer}`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.address() as net.AddressInfo).port
  return { port, url: `http://127.0.0.1:${port}` }
}

/**
 * send writes `pieces` to the gateway (pausing `gap` ms between them) and
 * returns everything received until the gateway closes, or until 15 s pass
 * (bytes changed in transit can leave an origin waiting for more).
 */
async function send(port: number, pieces: (string | Buffer)[], gap: number, t: TestContext): Promise<string> {
  const sock = net.connect(port, '127.0.0.1')
  t.after(() => sock.destroy())
  sock.setTimeout(15_000, () => sock.destroy())
  const parts: Buffer[] = []
  sock.on('data', (c: Buffer) => parts.push(c))
  const closed = new Promise<void>((resolve, reject) => {
    sock.on('close', () => resolve())
    sock.on('error', reject)
  })
  for (const p of pieces) {
    if (!sock.write(p)) await new Promise((r) => sock.once('drain', r))
    if (gap > 0) await sleep(gap)
  }
  await closed
  return Buffer.concat(parts).toString('latin1')
}

const answerOf = (res: string) => res.slice(res.indexOf('\r\n\r\n') + 4)

describe('the reused client read buffer', () => {
  it('keeps a large upload intact for an origin slower than the client (Content-Length)', async (t) => {
    const big = randomBytes(12 * 1024 * 1024 + 13)
    const origin = await startSlowOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url, { limits: { maxBodySize: 0 } }), { t })
    const head = `POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${big.length}\r\n\r\n`
    // Pieces of every size: some reads leave a write partly queued upstream
    // (under its high-water mark, so reading goes on), some fill the buffer.
    const pieces: Buffer[] = [Buffer.from(head)]
    for (let at = 0, size = 1; at < big.length; at += size, size = (size * 7 + 1) % 300_000)
      pieces.push(big.subarray(at, at + size))
    const res = await send(gw.port, pieces, 0, t)
    assert.match(res, /^HTTP\/1\.1 200 /)
    assert.equal(answerOf(res), `${big.length} ${sha256(big)}`)
  })

  it('keeps a chunked upload intact (re-chunked) for a slow origin', async (t) => {
    const big = randomBytes(8 * 1024 * 1024 + 7)
    const origin = await startSlowOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url, { limits: { maxBodySize: 0 } }), { t })
    const pieces: (string | Buffer)[] = [
      'POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n',
    ]
    for (let at = 0, size = 1; at < big.length; at += size, size = (size * 7 + 1) % 300_000) {
      const chunk = big.subarray(at, at + size)
      pieces.push(
        Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]),
      )
    }
    pieces.push('0\r\n\r\n')
    const res = await send(gw.port, pieces, 0, t)
    assert.equal(answerOf(res), `${big.length} ${sha256(big)}`)
  })

  it('keeps a head split over reads and the body held while an async hook runs', async (t) => {
    const body = randomBytes(300_000)
    const origin = await startSlowOrigin(t)
    const gw = await startGateway(proxyConfig(origin.url), {
      t,
      hooks: { onRequest: () => sleep(30).then(() => undefined) },
    })
    const head = `POST /held HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: ${'p'.repeat(6000)}\r\nContent-Length: ${body.length}\r\n\r\n`
    const pieces: (string | Buffer)[] = [
      head.slice(0, 1000),
      head.slice(1000, 5000),
      // The end of the head and the first body bytes share a read.
      Buffer.concat([Buffer.from(head.slice(5000)), body.subarray(0, 1000)]),
      body.subarray(1000, 70_000),
      body.subarray(70_000),
    ]
    const res = await send(gw.port, pieces, 10, t)
    assert.equal(answerOf(res), `${body.length} ${sha256(body)}`)
  })

  it('keeps pipelined requests that wait in the reader intact while more arrive', async (t) => {
    const bodies = [randomBytes(1500), randomBytes(700), randomBytes(2500), randomBytes(900)]
    const origin = await startOrigin(
      (req, res) => {
        const parts: Buffer[] = []
        req.on('data', (c: Buffer) => parts.push(c))
        // Slow answers: the later requests sit in the reader meanwhile.
        req.on('end', () => setTimeout(() => res.end(sha256(Buffer.concat(parts))), 100))
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const wire = bodies.map((b, i) =>
      Buffer.concat([
        Buffer.from(
          `POST /p${i} HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.length}\r\n${i === 3 ? 'Connection: close\r\n' : ''}\r\n`,
        ),
        b,
      ]),
    )
    // Three requests at once (two wait in the reader while the first is
    // answered), then a fourth that the next read brings in meanwhile.
    const text = await send(gw.port, [Buffer.concat(wire.slice(0, 3)), wire[3]!], 30, t)
    for (const b of bodies) assert.ok(text.includes(sha256(b)), `a pipelined body arrived changed`)
    assert.deepEqual(
      origin.requests.map((r) => r.url),
      ['/p0', '/p1', '/p2', '/p3'],
    )
  })

  it('carries a tunnel’s client bytes intact to a slow origin', async (t) => {
    const burst = randomBytes(8 * 1024 * 1024 + 3)
    const server = net.createServer((sock) => {
      let head = Buffer.alloc(0)
      let upgraded = false
      const hash = createHash('sha256')
      let received = 0
      let sincePause = 0
      sock.on('error', () => {})
      sock.on('data', (chunk: Buffer) => {
        if (!upgraded) {
          head = Buffer.concat([head, chunk])
          const end = head.indexOf('\r\n\r\n')
          if (end === -1) return
          upgraded = true
          sock.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: test\r\n\r\n')
          chunk = head.subarray(end + 4)
        }
        hash.update(chunk)
        received += chunk.length
        sincePause += chunk.length
        if (sincePause >= 256 * 1024) {
          sincePause = 0
          sock.pause()
          setTimeout(() => sock.resume(), 5)
        }
        if (received === burst.length) sock.end(hash.digest('hex'))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const port = (server.address() as net.AddressInfo).port
    const gw = await startGateway(
      proxyConfig(`http://127.0.0.1:${port}`, { proxy: { upgrades: ['test'] } }),
      { t },
    )
    // The first tunnel bytes share a write (and likely a read) with the upgrade request.
    const res = await send(
      gw.port,
      [
        Buffer.concat([
          Buffer.from('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: test\r\n\r\n'),
          burst.subarray(0, 1000),
        ]),
        burst.subarray(1000),
      ],
      0,
      t,
    )
    assert.match(res, /^HTTP\/1\.1 101 /)
    assert.ok(res.endsWith(sha256(burst)), 'the origin received other bytes than the client sent')
  })
})
