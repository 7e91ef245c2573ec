/**
 * Plain HTTP sent to a TLS listener (a user typing http:// for an https://
 * port) is answered 400 PLAIN_HTTP_ON_TLS in plain text, as nginx answers,
 * and the listener keeps serving TLS; a TLS handshake that fails for any
 * other reason is still just closed.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import https from 'node:https'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hasOpenssl, makeSelfSigned, type SelfSigned } from '../fixtures/self-signed.ts'
import { type GatewayHandle, startGateway } from '../helpers/gateway.ts'

const skip = (await hasOpenssl()) ? false : 'needs openssl to make a certificate'

/** rawExchange writes `bytes` on a TCP connection and resolves with all it gets back until the close. */
function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes))
    let got = ''
    socket.setEncoding('latin1').on('data', (d: string) => (got += d))
    socket.on('error', reject)
    socket.on('close', () => resolve(got))
    socket.setTimeout(10_000, () => socket.destroy(new Error('no close within 10 s')))
  })
}

describe('a TLS listener', { skip }, () => {
  let dir: string
  let cert: SelfSigned
  let gw: GatewayHandle

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-plain-tls-'))
    cert = await makeSelfSigned(dir)
    gw = await startGateway({
      listen: [{ address: '127.0.0.1:0', tls: { cert: cert.certPath, key: cert.keyPath } }],
      routes: [{ name: 'hi', respond: { status: 200, body: 'over tls' } }],
    })
  })
  after(async () => {
    await gw?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('answers plain HTTP with 400 PLAIN_HTTP_ON_TLS and closes', async () => {
    const reply = await rawExchange(gw.port, 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')
    const [head, body] = reply.split('\r\n\r\n')
    assert.match(head!, /^HTTP\/1\.1 400 Bad Request\r\n/)
    assert.match(head!, /\r\nconnection: close(\r\n|$)/)
    const id = /\r\nx-request-id: ([0-9a-f-]{36})(\r\n|$)/.exec(head!)?.[1]
    assert.ok(id, head)
    assert.match(body!, /code: PLAIN_HTTP_ON_TLS\n/)
    assert.match(body!, new RegExp(`request-id: ${id}\\n`))
    assert.equal(Buffer.byteLength(body!), Number(/content-length: (\d+)/.exec(head!)?.[1]))
  })

  it('still serves HTTPS, and closes a connection that is neither', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      https
        .get(`https://127.0.0.1:${gw.port}/`, { ca: cert.cert, servername: 'localhost' }, (res) => {
          let b = ''
          res.setEncoding('utf8').on('data', (d: string) => (b += d))
          res.on('end', () => resolve(b))
        })
        .on('error', reject)
    })
    assert.equal(text, 'over tls')
    assert.equal(await rawExchange(gw.port, 'SSH-2.0-OpenSSH_9.6\r\n'), '')
  })
})
