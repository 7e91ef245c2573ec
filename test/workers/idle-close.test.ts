/**
 * Graceful stop with an idle keep-alive client that never closes its side:
 * the gateway closes such a connection fully at once, so the drain is not
 * held for timeouts.drain (it was: 10 s with one idle connection, 0.8 s
 * without). Checked in-process (Gateway.close) and through the real
 * `portcullis start` on SIGTERM.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { startCli, withTempDir } from '../cli/run-cli.ts'
import { startGateway } from '../helpers/gateway.ts'

/** idleClient sends one keep-alive request, reads the answer and then just sits there. */
async function idleClient(port: number): Promise<{ socket: net.Socket; ended: Promise<unknown> }> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  // allowHalfOpen: never close back on the gateway's FIN, as a `/dev/tcp` client does not.
  socket.on('error', () => {})
  const ended = once(socket, 'end')
  await once(socket, 'connect')
  socket.write('GET /fixed HTTP/1.1\r\nHost: a\r\n\r\n')
  let got = ''
  socket.setEncoding('latin1')
  await new Promise<void>((resolve) => {
    socket.on('data', function onData(d: string) {
      got += d
      if (got.endsWith('idle-ok')) {
        socket.off('data', onData)
        resolve()
      }
    })
  })
  assert.match(got, /^HTTP\/1\.1 200/)
  return { socket, ended }
}

describe('graceful stop with an idle keep-alive client', () => {
  it('Gateway.close() resolves at once, the idle connection closed', async (t) => {
    const gw = await startGateway(
      { routes: [{ respond: { body: 'idle-ok' } }], timeouts: { drain: '10s' } },
      { t },
    )
    const idle = await idleClient(gw.port)
    t.after(() => idle.socket.destroy())
    const t0 = performance.now()
    await gw.gw.close({ drainTimeout: 10_000 })
    const took = performance.now() - t0
    await idle.ended
    assert.ok(took < 500, `close took ${Math.round(took)} ms`)
    assert.equal(gw.gw.stats().connections, 0, 'closed on the gateway side, not half-closed')
  })

  it('portcullis start exits 0 well under a second after SIGTERM', async () => {
    await withTempDir(async (dir) => {
      const yaml =
        'listen:\n  - address: 127.0.0.1:0\nroutes:\n  - respond: { body: idle-ok }\ntimeouts:\n  drain: 10s\n'
      await writeFile(join(dir, 'gateway.yaml'), yaml)
      const cli = startCli(['start', '-c', 'gateway.yaml'], { cwd: dir })
      try {
        const [, port] = await cli.waitForStderr(/listening on http:\/\/127\.0\.0\.1:(\d+)/)
        const idle = await idleClient(Number(port))
        const t0 = performance.now()
        cli.child.kill('SIGTERM')
        assert.equal(await cli.exited, 0)
        const took = performance.now() - t0
        await idle.ended
        idle.socket.destroy()
        assert.ok(took < 1000, `exited ${Math.round(took)} ms after SIGTERM`)
      } finally {
        cli.child.kill('SIGKILL')
      }
    })
  })
})
