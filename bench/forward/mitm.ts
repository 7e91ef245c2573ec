/**
 * Forward-proxy and interception figures on this machine, one process for
 * the gateway (this one), a TLS origin answering 13 bytes, and a client in
 * the same process (so client CPU counts against the gateway: the rates are
 * lower bounds). Prints:
 *
 *   leaves      time to make N leaves for N new hosts at once (one shared
 *               key: one ECDSA signature and one SecureContext each), and
 *               the latency of one more new host while they are made;
 *   handshake   CONNECT + 200 + TLS handshake to a host whose leaf is
 *               cached, median and p99 over sequential attempts;
 *   intercepted keep-alive GETs through interception: C connections, each
 *               CONNECT + TLS once, then GETs one after another for D s;
 *   idle        memory and file descriptors for 500 idle intercepted
 *               connections, and the descriptors after they closed.
 *
 * Usage: node --expose-gc bench/forward/mitm.ts [N=100] [C=20] [D=5]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { createCa, loadCa } from '../../src/forward/mitm/ca.ts'
import { LeafCache } from '../../src/forward/mitm/leaf-cache.ts'
import { createGateway } from '../../src/server/gateway.ts'
import { makeSelfSigned } from '../../test/fixtures/self-signed.ts'

const [N = 100, C = 20, D = 5] = process.argv.slice(2).map(Number)
const dir = await mkdtemp(join(tmpdir(), 'portcullis-bench-mitm-'))
try {
  await createCa(join(dir, 'ca'))
  await leaves(await loadCa(join(dir, 'ca')))
  const cert = await makeSelfSigned(dir)
  const SMALL = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world\n'
  const origin = tls.createServer({ cert: cert.cert, key: cert.key }, (s) => {
    s.on('data', (d: Buffer) => {
      for (let i = d.indexOf('\r\n\r\n'); i !== -1; i = d.indexOf('\r\n\r\n', i + 4)) s.write(SMALL)
    })
    s.on('error', () => {})
  })
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
  const port = (origin.address() as net.AddressInfo).port
  const gw = await createGateway({
    listen: [],
    // As bench/servers/portcullis-config.ts: keep-alive connections are not recycled during a run.
    limits: { maxRequestsPerConnection: 1_000_000_000 },
    forward: {
      address: '127.0.0.1:0',
      allow: ['127.0.0.1'],
      mitm: { caDir: join(dir, 'ca'), hosts: ['localhost'], upstreamCa: cert.certPath },
    },
  })
  await gw.listen()
  const proxyPort = gw.addresses()[0]!.port
  const ca = (await loadCa(join(dir, 'ca'))).certPem
  await handshakes(proxyPort, port, ca)
  await intercepted(proxyPort, port, ca)
  await idle(proxyPort, port, ca, 500)
  await gw.close({ drainTimeout: 0 })
  origin.close()
} finally {
  await rm(dir, { recursive: true, force: true })
}

async function leaves(ca: Awaited<ReturnType<typeof loadCa>>): Promise<void> {
  // As the gateway makes it (forward.mitm.spareContexts default 128), spares made before the burst.
  const cache = new LeafCache(ca, N * 2, 128)
  await cache.contextFor('warm.example') // the shared key
  while (cache.spareCount < 128) await new Promise((r) => setTimeout(r, 10))
  const t0 = performance.now()
  const all = Array.from({ length: N }, (_, i) => cache.contextFor(`host-${i}.example`))
  const t1 = performance.now()
  await cache.contextFor('one-more.example')
  const one = performance.now() - t1
  await Promise.all(all)
  const total = performance.now() - t0
  cache.close()
  console.log(
    `leaves      ${N} new hosts at once: ${total.toFixed(1)} ms (${(total / (N + 1)).toFixed(2)} ms each); one more new host meanwhile: ${one.toFixed(1)} ms`,
  )
}

/** tunnel opens CONNECT + TLS to localhost:port through the proxy. */
function tunnel(proxyPort: number, port: number, ca: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(proxyPort, '127.0.0.1')
    raw.on('error', reject)
    raw.write(`CONNECT localhost:${port} HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`)
    raw.once('data', () => {
      const s = tls.connect({ socket: raw, servername: 'localhost', ca })
      s.once('secureConnect', () => resolve(s))
      s.once('error', reject)
    })
  })
}

async function handshakes(proxyPort: number, port: number, ca: string): Promise<void> {
  ;(await tunnel(proxyPort, port, ca)).destroy() // the leaf is made once
  const times: number[] = []
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now()
    const s = await tunnel(proxyPort, port, ca)
    times.push(performance.now() - t0)
    s.destroy()
  }
  times.sort((a, b) => a - b)
  console.log(
    `handshake   cached host, CONNECT + TLS (client side included): median ${times[100]!.toFixed(2)} ms, p99 ${times[197]!.toFixed(2)} ms`,
  )
}

async function intercepted(proxyPort: number, port: number, ca: string): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: C }, () => tunnel(proxyPort, port, ca)))
  const req = `GET /small HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`
  let count = 0
  let running = true
  const end = performance.now() + D * 1000
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((done) => {
          let buf = ''
          s.on('data', (d: Buffer) => {
            buf += d.toString('latin1')
            // The answer is small; one complete response ends with its 13-byte body.
            let i: number
            while ((i = buf.indexOf('Hello, world\n')) !== -1) {
              buf = buf.slice(i + 13)
              count++
              if (running && performance.now() < end) s.write(req)
              else {
                running = false
                s.destroy()
                done()
              }
            }
          })
          s.write(req)
        }),
    ),
  )
  console.log(`intercepted ${C} keep-alive connections, ${D} s: ${Math.round(count / D)} requests/s`)
}

/**
 * idle: memory and descriptors for M idle intercepted connections (each
 * CONNECT + TLS + one GET, then idle). The client sockets live in this
 * process too, so the figure per connection is an upper bound (both ends
 * of the client's TLS plus the proxy's inner and upstream side).
 */
export async function idle(proxyPort: number, port: number, ca: string, m: number): Promise<void> {
  const { readdirSync } = await import('node:fs')
  const fds = () => readdirSync('/proc/self/fd').length
  globalThis.gc?.()
  const fd0 = fds()
  const before = process.memoryUsage()
  const sockets: tls.TLSSocket[] = []
  for (let i = 0; i < m; i++) {
    const s = await tunnel(proxyPort, port, ca)
    s.write(`GET /small HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`)
    await new Promise<void>((r) => s.once('data', () => r()))
    sockets.push(s)
  }
  globalThis.gc?.()
  const after = process.memoryUsage()
  const per = (k: 'rss' | 'heapUsed' | 'external') => ((after[k] - before[k]) / m / 1024).toFixed(1)
  const fd1 = fds()
  for (const s of sockets) s.destroy()
  await new Promise((r) => setTimeout(r, 500))
  console.log(
    `idle        ${m} intercepted connections: per connection rss ${per('rss')} KiB, heap ${per('heapUsed')} KiB, external ${per('external')} KiB (client side included); fds ${fd0} -> ${fd1} -> ${fds()} after closing`,
  )
}
