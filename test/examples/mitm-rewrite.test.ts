/**
 * examples/mitm-rewrite.ts does what its comments promise: its config
 * (listener on port 0, a fresh CA, 127.0.0.1 allowed, the test origin's
 * self-signed certificate trusted through mitm.upstreamCa) and hooks, driven
 * by curl through the proxy to a local HTTPS origin that answers gzip when
 * asked. `localhost` is in `intercepted`: curl trusting our CA gets the page
 * with the banner, decoded for the hook and sent gzip again (Content-Length
 * and ETag gone) or plain; a text body gets its last line. `127.0.0.1` is
 * not: the hook tunnels it, and curl (and Node TLS through a CONNECT) sees
 * the origin's own certificate and its body untouched, until the program
 * adds it to the Set.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import tls from 'node:tls'
import { X509Certificate } from 'node:crypto'
import { gunzipSync, gzipSync } from 'node:zlib'
import { BANNER, config, hooks, intercepted, TEXT_LINE } from '../../examples/mitm-rewrite.ts'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { curl, startForward } from '../helpers/forward.ts'
import { mitmFixture } from '../helpers/https-origin.ts'

const PAGE = '<html><body><h1>origin page</h1></body></html>'
const TEXT = 'origin notes\n'
const WITH_BANNER = '<html><body><h1>origin page</h1>' + BANNER + '</body></html>'

/** response drops the CONNECT's own answer that `curl -i` prints before the response inside the tunnel. */
function response(stdout: string): { head: string; body: string } {
  const text = stdout.replace(/^HTTP\/1\.1 200[^\r]*\r\n(?:[^\r]+\r\n)*\r\n(?=HTTP\/)/, '')
  const end = text.indexOf('\r\n\r\n')
  return { head: text.slice(0, end), body: text.slice(end + 4) }
}

/** peerThroughConnect does a TLS handshake through a CONNECT to `host:port` and returns the certificate it got. */
async function peerThroughConnect(
  proxyPort: number,
  host: string,
  port: number,
  ca: string,
): Promise<X509Certificate> {
  const raw = net.connect(proxyPort, '127.0.0.1')
  try {
    raw.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`)
    const [head] = (await once(raw, 'data')) as [Buffer]
    assert.match(head.toString(), /^HTTP\/1\.1 200/)
    const secure = tls.connect({ socket: raw, ca, servername: net.isIP(host) ? undefined : host })
    await once(secure, 'secureConnect')
    const der = secure.getPeerCertificate().raw
    secure.destroy()
    return new X509Certificate(der)
  } finally {
    raw.destroy()
  }
}

test(
  'examples/mitm-rewrite.ts: intercepted pages rewritten (gzip too), other hosts tunnelled with their own certificate',
  { skip: !(await hasOpenssl()) && 'needs openssl', timeout: 120_000 },
  async (t) => {
    // An origin answering gzip to a client that accepts it, with a length and a validator.
    const sent: string[] = []
    const { dir, caDir, caPem, cert, port } = await mitmFixture(t, (req, res) => {
      const text = req.url === '/notes'
      if (req.url === '/data.json') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 8, etag: '"j1"' })
        return res.end('{"a":1}\n')
      }
      const body = Buffer.from(text ? TEXT : PAGE)
      const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')
      sent.push(`${req.url} ${gzip ? 'gzip' : 'identity'}`)
      const out = gzip ? gzipSync(body) : body
      res.writeHead(200, {
        'content-type': text ? 'text/plain; charset=utf-8' : 'text/html; charset=utf-8',
        'content-length': out.length,
        etag: '"v1"',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      })
      res.end(out)
    })
    const fwd = await startForward(
      {
        ...config.forward,
        address: '127.0.0.1:0',
        // The test's origin is on loopback, which the safe defaults refuse.
        allow: ['127.0.0.1'],
        // Its certificate is self-signed: trusted for the intercepted requests as a private origin's CA would be.
        mitm: { ...config.forward!.mitm!, caDir, upstreamCa: cert.certPath },
      },
      { t, hooks },
    )
    const via = ['--cacert', join(caDir, 'ca.pem'), '-x', fwd.proxy]

    // Intercepted, plain: the banner, no stale length or validator.
    const plain = await curl([...via, '-i', `https://localhost:${port}/`])
    assert.equal(plain.code, 0, plain.stderr)
    const { head, body } = response(plain.stdout)
    assert.match(head, /^HTTP\/1\.1 200/)
    assert.doesNotMatch(head, /\r\n(content-length|etag|content-encoding):/i)
    assert.equal(body, WITH_BANNER)

    // Intercepted, gzip from the origin: decoded for the hook, sent gzip again.
    const zipped = await curl([...via, '--compressed', '-i', `https://localhost:${port}/`])
    assert.equal(zipped.code, 0, zipped.stderr)
    const gz = response(zipped.stdout)
    assert.match(gz.head, /\r\ncontent-encoding: gzip(\r\n|$)/i)
    assert.doesNotMatch(gz.head, /\r\n(content-length|etag):/i)
    assert.equal(gz.body, WITH_BANNER)
    // The bytes on the wire are one gzip member of the new body (curl asked, did not decode).
    const file = join(dir, 'page.gz')
    const raw = await curl([...via, '-H', 'Accept-Encoding: gzip', '-o', file, `https://localhost:${port}/`])
    assert.equal(raw.code, 0, raw.stderr)
    assert.equal(gunzipSync(await readFile(file)).toString(), WITH_BANNER)
    const notes = await curl([...via, '--compressed', `https://localhost:${port}/notes`])
    assert.equal(notes.code, 0, notes.stderr)
    assert.equal(notes.stdout, TEXT + TEXT_LINE)
    assert.deepEqual(sent, ['/ identity', '/ gzip', '/ gzip', '/notes gzip'])
    // Other types stream through untouched, their length and validator kept.
    const json = response((await curl([...via, '-i', `https://localhost:${port}/data.json`])).stdout)
    assert.match(json.head, /\r\ncontent-length: 8(\r\n|$)/i)
    assert.match(json.head, /\r\netag: "j1"(\r\n|$)/i)
    assert.equal(json.body, '{"a":1}\n')

    // Intercepted: the leaf is ours (issued by the CA), not the origin's.
    const ours = await peerThroughConnect(fwd.port, 'localhost', port, caPem)
    assert.ok(ours.checkIssued(new X509Certificate(caPem)))

    // 127.0.0.1 is not in the Set: tunnelled, the origin's own certificate and body.
    const originCert = new X509Certificate(cert.cert)
    const theirs = await peerThroughConnect(fwd.port, '127.0.0.1', port, cert.cert)
    assert.equal(theirs.fingerprint256, originCert.fingerprint256)
    const tunnelled = await curl(['--cacert', cert.certPath, '-x', fwd.proxy, `https://127.0.0.1:${port}/`])
    assert.equal(tunnelled.code, 0, tunnelled.stderr)
    assert.equal(tunnelled.stdout, PAGE)
    const notOurs = await curl([...via, `https://127.0.0.1:${port}/`])
    assert.equal(notOurs.code, 60, 'our CA did not issue the certificate curl got')

    // The Set is read at each CONNECT: added, the next one is intercepted.
    intercepted.add('127.0.0.1')
    t.after(() => intercepted.delete('127.0.0.1'))
    const now = await curl([...via, `https://127.0.0.1:${port}/`])
    assert.equal(now.code, 0, now.stderr)
    assert.equal(now.stdout, WITH_BANNER)
  },
)
