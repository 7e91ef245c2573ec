import assert from 'node:assert/strict'
import net from 'node:net'
import { describe, it, type TestContext } from 'node:test'
import { adoptWithOwnRead } from './own-read.ts'

/** listen starts a server on 127.0.0.1:0 and connects one client to it; resolves with the accepted socket. */
async function accepted(
  t: TestContext,
  options: net.ServerOpts,
): Promise<{ server: net.Server; socket: net.Socket; client: net.Socket }> {
  const server = net.createServer(options)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  const socket = await new Promise<net.Socket>((resolve) => server.once('connection', resolve))
  t.after(() => {
    client.destroy()
    socket.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { server, socket, client }
}

describe('adoptWithOwnRead', () => {
  it('moves a socket accepted paused onto the given buffers', async (t) => {
    const { server, socket, client } = await accepted(t, { pauseOnConnect: true })
    const own = Buffer.alloc(64)
    const reads: { n: number; same: boolean; text: string }[] = []
    const adopted = adoptWithOwnRead(socket, {
      buffer: () => own,
      callback: (n, buf) => {
        reads.push({ n, same: buf === own, text: buf.toString('latin1', 0, n) })
        return true
      },
    })
    assert.ok(adopted !== null)
    t.after(() => adopted.destroy())
    assert.ok(socket.destroyed, 'the emptied socket is destroyed')
    client.write('hello')
    await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(reads, [{ n: 5, same: true, text: 'hello' }])
    // Writes go out on the moved handle.
    const echoed = new Promise<string>((resolve) => client.once('data', (b: Buffer) => resolve(b.toString())))
    adopted.write('back')
    assert.equal(await echoed, 'back')
    // The server no longer counts it: the gateway counts its connections itself.
    const count = await new Promise<number>((resolve, reject) =>
      server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    )
    assert.equal(count, 0)
  })

  it('leaves a socket that already reads as it is, resumed', async (t) => {
    const { socket, client } = await accepted(t, {})
    const adopted = adoptWithOwnRead(socket, {
      buffer: () => Buffer.alloc(64),
      callback: () => assert.fail('no read may reach the own buffer'),
    })
    assert.equal(adopted, null)
    const got = new Promise<string>((resolve) => socket.once('data', (b: Buffer) => resolve(b.toString())))
    client.write('plain')
    assert.equal(await got, 'plain')
  })
})
