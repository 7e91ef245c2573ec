/**
 * The origin of the forward-proxy benchmarks: a TLS server and a plain one
 * answering every request head with the same 13-byte response, on raw
 * sockets (so the origin costs little next to the proxy in front of it).
 * Prints `PORTS <tls> <plain>` when listening.
 *
 * Usage: node bench/forward/origin.ts CERT.pem KEY.pem [TLS_PORT] [PLAIN_PORT] [HOST=127.0.0.1]
 * (HOST 0.0.0.0 answers on every 127.x.y.z: many distinct loopback hosts.)
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'

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

const secure = tls.createServer(
  { cert: readFileSync(certPath!), key: readFileSync(keyPath!), ALPNProtocols: ['http/1.1'] },
  answer,
)
const plain = net.createServer(answer)
await new Promise<void>((r) => secure.listen(Number(tlsPort), host, r))
await new Promise<void>((r) => plain.listen(Number(plainPort), host, r))
const port = (s: net.Server) => (s.address() as net.AddressInfo).port
console.log(`PORTS ${port(secure)} ${port(plain)}`)
process.on('SIGTERM', () => process.exit(0))
