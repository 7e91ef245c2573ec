/**
 * Plain-TCP upstream connections read into one reused buffer (see
 * UpstreamConnection.readBuffer): these tests make every consumer keep a view
 * of it past the read (a slow client's socket queue, a head split across
 * reads, a response pipelined behind another, a tunnel) and check that no
 * byte is overwritten by the next read.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it, type TestContext } from 'node:test'
import { dechunk, proxyConfig, startGateway, startRawOrigin } from '../helpers/gateway.ts'

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/**
 * slowRead sends `request` and reads everything until the socket closes,
 * stopping 5 ms after every 256 KiB so the gateway's writes to it queue up.
 */
async function slowRead(port: number, request: string, t: TestContext): Promise<Buffer> {
  const sock = net.connect(port, '127.0.0.1')
  t.after(() => sock.destroy())
  const parts: Buffer[] = []
  let sincePause = 0
  sock.on('data', (chunk: Buffer) => {
    parts.push(chunk)
    sincePause += chunk.length
    if (sincePause >= 256 * 1024) {
      sincePause = 0
      sock.pause()
      setTimeout(() => sock.resume(), 5)
    }
  })
  sock.write(request)
  await new Promise<void>((resolve, reject) => {
    sock.on('close', () => resolve())
    sock.on('error', reject)
  })
  return Buffer.concat(parts)
}

function bodyOf(response: Buffer): Buffer {
  const end = response.indexOf('\r\n\r\n')
  assert.notEqual(end, -1, 'no response head')
  return response.subarray(end + 4)
}

describe('the reused upstream read buffer', () => {
  it('keeps a large body intact for a client slower than the origin (Content-Length)', async (t) => {
    const big = randomBytes(12 * 1024 * 1024 + 13)
    const origin = await startRawOrigin(
      (conn) => {
        if (!conn.data.includes('\r\n\r\n')) return
        conn.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`)
        conn.socket.write(big)
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const res = await slowRead(gw.port, 'GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', t)
    const body = bodyOf(res)
    assert.equal(body.length, big.length)
    assert.equal(sha256(body), sha256(big))
  })

  it('keeps a chunked body intact for a slow client', async (t) => {
    const big = randomBytes(12 * 1024 * 1024 + 5)
    const origin = await startRawOrigin(
      (conn) => {
        if (!conn.data.includes('\r\n\r\n')) return
        conn.socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')
        for (let at = 0; at < big.length;) {
          const n = Math.min(big.length - at, 1000 + (at % 7001))
          conn.socket.write(`${n.toString(16)}\r\n`)
          conn.socket.write(big.subarray(at, at + n))
          conn.socket.write('\r\n')
          at += n
        }
        conn.socket.write('0\r\n\r\n')
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const res = await slowRead(gw.port, 'GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', t)
    assert.equal(sha256(dechunk(bodyOf(res), 0).body), sha256(big))
  })

  it('keeps a head that arrives over several reads, and the body after it', async (t) => {
    const body = randomBytes(3000)
    const head = `HTTP/1.1 200 OK\r\nX-Long: ${'a'.repeat(5000)}\r\nContent-Length: ${body.length}\r\n\r\n`
    const origin = await startRawOrigin(
      async (conn) => {
        if (!conn.data.includes('\r\n\r\n')) return
        // Four pieces with pauses: the gateway reads each on its own.
        for (let i = 0; i < 4; i++) {
          conn.socket.write(head.slice((i * head.length) / 4, ((i + 1) * head.length) / 4))
          await sleep(20)
        }
        conn.socket.write(body.subarray(0, 1000))
        await sleep(20)
        conn.socket.write(body.subarray(1000))
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const res = await slowRead(gw.port, 'GET /split HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', t)
    assert.match(res.toString('latin1'), /X-Long: a{5000}\r\n/)
    assert.ok(bodyOf(res).equals(body))
  })

  it('carries a tunnel’s bytes intact, including those read together with the 101', async (t) => {
    const burst = randomBytes(8 * 1024 * 1024 + 3)
    const origin = await startRawOrigin(
      (conn) => {
        if (!conn.data.includes('\r\n\r\n') || (conn as { done?: boolean }).done) return
        ;(conn as { done?: boolean }).done = true
        // The first tunnel bytes share a write (and likely a read) with the 101.
        conn.socket.write(
          Buffer.concat([
            Buffer.from('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: test\r\n\r\n'),
            burst.subarray(0, 1000),
          ]),
        )
        conn.socket.end(burst.subarray(1000))
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url, { proxy: { upgrades: ['test'] } }), { t })
    const res = await slowRead(
      gw.port,
      'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: test\r\n\r\n',
      t,
    )
    assert.match(res.toString('latin1', 0, 12), /^HTTP\/1\.1 101/)
    const got = bodyOf(res)
    assert.equal(got.length, burst.length)
    assert.equal(sha256(got), sha256(burst))
  })
})
