/**
 * The load client of the forward-proxy benchmarks: C keep-alive
 * connections, each sending one small GET after the other for S seconds,
 * in one of four modes:
 *
 *   mitm          CONNECT host:port through the proxy, then TLS inside the
 *                 tunnel (the proxy's leaf is not verified: the client's
 *                 cost should be the same for every contestant), then GETs;
 *   absolute      plain HTTP to the proxy, absolute-form targets
 *                 (`GET http://host:port/small`, RFC 9112 §3.2.2);
 *   direct-tls    TLS straight to the origin (what the client can do at
 *                 most: it must be faster than every contestant);
 *   direct-plain  plain HTTP straight to the origin.
 *
 * Counting starts after W seconds of warm-up on the same connections. A
 * connection that fails is opened again (counted in `errors`). Prints one
 * JSON line: { mode, connections, seconds, requests, rps, errors, all }
 * (`all`: responses including the warm-up's, for CPU per request).
 *
 * Usage: node bench/forward/connect-load.ts MODE PROXY_PORT HOST TARGET_PORT C S [W=1]
 * (PROXY_PORT is ignored in the direct modes.)
 */
import net from 'node:net'
import tls from 'node:tls'
import { ResponseReader } from '../clients/response-reader.ts'

const [mode, proxyPortText, host, targetPortText, cText, sText, wText = '1'] = process.argv.slice(2)
const proxyPort = Number(proxyPortText)
const targetPort = Number(targetPortText)
const C = Number(cText)
const S = Number(sText)
const W = Number(wText)
const authority = `${host}:${targetPort}`
const REQUEST = Buffer.from(
  mode === 'absolute'
    ? `GET http://${authority}/small HTTP/1.1\r\nHost: ${authority}\r\n\r\n`
    : `GET /small HTTP/1.1\r\nHost: ${authority}\r\n\r\n`,
  'latin1',
)

let counting = false
let running = true
let requests = 0
let answered = 0
let errors = 0

/** open resolves with a socket ready for requests, per the mode. */
function open(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (mode === 'direct-tls') {
      const s = tls.connect({
        host: '127.0.0.1',
        port: targetPort,
        servername: host,
        rejectUnauthorized: false,
      })
      s.once('secureConnect', () => resolve(s))
      s.once('error', reject)
      return
    }
    if (mode === 'direct-plain' || mode === 'absolute') {
      const s = net.connect(mode === 'absolute' ? proxyPort : targetPort, '127.0.0.1')
      s.once('connect', () => resolve(s))
      s.once('error', reject)
      return
    }
    const raw = net.connect(proxyPort, '127.0.0.1')
    raw.once('error', reject)
    raw.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)
    let head = ''
    const onData = (d: Buffer) => {
      head += d.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      raw.off('data', onData)
      raw.pause()
      if (!/^HTTP\/1\.[01] 200/.test(head)) {
        raw.destroy()
        reject(new Error(`CONNECT answered ${head.slice(0, 40)}`))
        return
      }
      const s = tls.connect({
        socket: raw,
        servername: host,
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
      })
      s.once('secureConnect', () => resolve(s))
      s.once('error', reject)
    }
    raw.on('data', onData)
  })
}

/** drive keeps one connection busy until the run ends, reopening it after a failure. */
async function drive(): Promise<void> {
  while (running) {
    let s: net.Socket
    try {
      s = await open()
    } catch {
      errors++
      await new Promise((r) => setTimeout(r, 50))
      continue
    }
    await new Promise<void>((done) => {
      const reader = new ResponseReader((status) => {
        answered++
        if (counting) {
          if (status === 200) requests++
          else errors++
        }
        if (running) s.write(REQUEST)
        else s.destroy()
      })
      s.on('data', (d: Buffer) => reader.push(d))
      s.on('error', () => {})
      s.once('close', () => {
        if (running) errors++
        done()
      })
      s.write(REQUEST)
    })
  }
}

const all = Array.from({ length: C }, drive)
await new Promise((r) => setTimeout(r, W * 1000))
counting = true
const t0 = performance.now()
await new Promise((r) => setTimeout(r, S * 1000))
counting = false
const seconds = (performance.now() - t0) / 1000
running = false
const result = {
  mode,
  connections: C,
  seconds,
  requests,
  rps: Math.round(requests / seconds),
  errors,
  all: answered,
}
console.log(JSON.stringify(result))
// Connections waiting for an answer that will not come are not waited for.
await Promise.race([Promise.all(all), new Promise((r) => setTimeout(r, 2000))])
process.exit(0)
