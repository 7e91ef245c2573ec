/**
 * The origin of the forward-proxy benchmarks: a TLS server and a plain one
 * answering every request head with the same 13-byte response, on raw
 * sockets (so the origin costs little next to the proxy in front of it).
 * Prints `PORTS <tls> <plain>` when listening.
 *
 * Usage: node bench/forward/origin.ts CERT.pem KEY.pem [TLS_PORT] [PLAIN_PORT] [HOST=127.0.0.1]
 * (HOST 0.0.0.0 answers on every 127.x.y.z: many distinct loopback hosts.)
 *
 * ORIGIN_CA_DIR in the environment (CERT.pem and KEY.pem then `-`): each
 * local address presents a certificate of its own naming it, signed by the
 * CA in that directory, as distinct hosts do; ORIGIN_ADDRESSES names a file
 * of the addresses (a line each) whose certificates are made before
 * listening. One certificate naming hundreds of addresses would make every
 * client's verification slower than any real origin's (Node's
 * getPeerCertificate turns each name into a string).
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import { loadCa } from '../../src/forward/mitm/ca.ts'
import { LeafCache } from '../../src/forward/mitm/leaf-cache.ts'

const [certPath, keyPath, tlsPort = '0', plainPort = '0', host = '127.0.0.1'] = process.argv.slice(2)
const SMALL = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world\n',
)

/** answer writes one response per complete request head (a request head may straddle two reads). */
function answer(s: net.Socket): void {
  let tail = ''
  s.on('data', (d: Buffer) => {
    const text = tail + d.toString('latin1')
    let n = 0
    let i = text.indexOf('\r\n\r\n')
    let last = 0
    while (i !== -1) {
      n++
      last = i + 4
      i = text.indexOf('\r\n\r\n', last)
    }
    tail = text.slice(last).slice(-3)
    for (let k = 0; k < n; k++) s.write(SMALL)
  })
  s.on('error', () => {})
}

const caDir = process.env.ORIGIN_CA_DIR
const secure = caDir
  ? await perAddress(caDir, process.env.ORIGIN_ADDRESSES)
  : tls.createServer(
      {
        cert: readFileSync(certPath!),
        key: readFileSync(keyPath!),
        ALPNProtocols: ['http/1.1'],
        noDelay: true,
      },
      answer,
    )
// TCP_NODELAY, as origins serving TLS set it (nginx's tcp_nodelay is on by default): without it, a
// response written while the TLS 1.3 session tickets are not yet acknowledged waits for the client's
// delayed ACK, up to 40 ms (seen as a p90 of 49 ms on tunnelled probes in new-hosts.ts).
const plain = net.createServer({ noDelay: true }, answer)
await new Promise<void>((r) => secure.listen(Number(tlsPort), host, r))
await new Promise<void>((r) => plain.listen(Number(plainPort), host, r))
const port = (s: net.Server) => (s.address() as net.AddressInfo).port
console.log(`PORTS ${port(secure)} ${port(plain)}`)
process.on('SIGTERM', () => process.exit(0))

/** perAddress: a TLS server presenting each local address its own certificate, made by the CA in `dir`. */
async function perAddress(dir: string, listFile: string | undefined): Promise<net.Server> {
  const leaves = new LeafCache(await loadCa(dir), 1_000_000)
  const made = new Map<string, tls.SecureContext>()
  const listed = listFile ? readFileSync(listFile, 'latin1').split('\n') : []
  const addresses = ['127.0.0.1', ...listed.filter(Boolean)]
  // `waited`: made back to back, not paced as leaves nobody waits for are.
  const contexts = await Promise.all(addresses.map((a) => leaves.contextFor(a, true)))
  addresses.forEach((a, i) => made.set(a, contexts[i]!))
  const serve = (socket: net.Socket, secureContext: tls.SecureContext) => {
    const s = new tls.TLSSocket(socket, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] })
    s.on('error', () => s.destroy())
    answer(s)
  }
  return net.createServer({ noDelay: true }, (socket) => {
    const address = socket.localAddress ?? ''
    const ready = made.get(address)
    if (ready !== undefined) return serve(socket, ready)
    // An address not listed: its certificate made now, the ClientHello kept meanwhile.
    socket.pause()
    leaves.contextFor(address, true).then(
      (context) => (made.set(address, context), serve(socket, context)),
      () => socket.destroy(),
    )
  })
}
