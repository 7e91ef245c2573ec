/**
 * A minimal CONNECT proxy for tests of chaining: it records each CONNECT's
 * target and Proxy-Authorization, answers `status`, and on 200 pipes the
 * tunnel to 127.0.0.1 at the CONNECT's port (or `port` for every one, so a
 * test can name hosts that do not resolve). Stopped in `t.after`.
 */
import net from 'node:net'
import type { Cleanup } from './gateway.ts'

/** A listening CONNECT proxy. */
export interface ConnectProxy {
  /** Every CONNECT received, in order. */
  connects: { target: string; auth: string | undefined }[]
  /** `http://127.0.0.1:PORT`. */
  url: string
}

export async function startConnectProxy(
  t: Cleanup,
  options: { status?: number; port?: number } = {},
): Promise<ConnectProxy> {
  const status = options.status ?? 200
  const connects: ConnectProxy['connects'] = []
  const sockets = new Set<net.Socket>()
  const track = (s: net.Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
  }
  const server = net.createServer((client) => {
    track(client)
    let buf = ''
    client.on('data', function onHead(d: Buffer) {
      buf += d.toString('latin1')
      const end = buf.indexOf('\r\n\r\n')
      if (end === -1) return
      client.off('data', onHead)
      const [line, ...fields] = buf.slice(0, end).split('\r\n')
      const target = line!.split(' ')[1]!
      const auth = fields.find((f) => f.toLowerCase().startsWith('proxy-authorization:'))
      connects.push({ target, auth: auth?.slice(auth.indexOf(':') + 1).trim() })
      if (status !== 200) return void client.end(`HTTP/1.1 ${status} No\r\nContent-Length: 0\r\n\r\n`)
      const port = options.port ?? Number(target.slice(target.lastIndexOf(':') + 1))
      const up = net.connect(port, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        const rest = buf.slice(end + 4)
        if (rest !== '') up.write(Buffer.from(rest, 'latin1'))
        client.pipe(up).pipe(client)
      })
      track(up)
      up.on('close', () => client.destroy())
      client.on('close', () => up.destroy())
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  )
  return { connects, url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` }
}
