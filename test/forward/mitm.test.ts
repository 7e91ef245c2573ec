/**
 * TLS interception over real sockets, driven by curl: the local CA made by
 * createCa, an HTTPS origin with its own self-signed certificate (trusted
 * through forward.mitm.upstreamCa), hooks seeing `source: 'mitm'`. A client
 * that does not trust the CA fails verification; an origin the proxy cannot
 * verify is a 502; garbage and half handshakes close without leaking.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import https from 'node:https'
import net from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import tls from 'node:tls'
import type { Session } from '../../src/core/session.ts'
import { hasOpenssl, makeSelfSigned } from '../fixtures/self-signed.ts'
import { curl, startForward, waitFor } from '../helpers/forward.ts'
import { mitmFixture, startHttpsOrigin } from '../helpers/https-origin.ts'
import { stopWebSocketServer } from '../helpers/websocket.ts'

const skip = !(await hasOpenssl()) && 'needs openssl'

async function setup(t: import('node:test').TestContext) {
  const s = await mitmFixture(t, (req, res) => {
    res.setHeader('content-type', 'text/plain')
    res.end(`secure ${req.method} ${req.url} host=${req.headers.host}`)
  })
  return { dir: s.dir, caDir: s.caDir, caPem: s.caPemPath, originCert: s.cert.certPath, port: s.port }
}

test('curl through interception: trusted with --cacert, hooks see source mitm', { skip }, async (t) => {
  const s = await setup(t)
  const logged: Session[] = []
  const fwd = await startForward(
    {
      allow: ['127.0.0.1'],
      mitm: { caDir: s.caDir, hosts: ['localhost', '127.0.0.1'], upstreamCa: s.originCert },
    },
    {
      t,
      hooks: {
        onResponse: (session, res) => {
          if (session.source === 'mitm') res.headers.set('x-intercepted', session.destination!.host)
        },
        onLog: (session) => void logged.push(session),
      },
    },
  )
  for (const host of ['localhost', '127.0.0.1']) {
    const r = await curl(['--cacert', s.caPem, '-x', fwd.proxy, '-i', `https://${host}:${s.port}/p?q=1`])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200 OK/)
    assert.match(r.stdout, new RegExp(`x-intercepted: ${host.replace(/\./g, '\\.')}`, 'i'))
    assert.match(r.stdout, new RegExp(`secure GET /p\\?q=1 host=${host}:${s.port}$`))
  }
  assert.ok(await waitFor(() => logged.length === 4))
  const inside = logged.filter((l) => l.source === 'mitm')
  assert.equal(inside.length, 2)
  assert.equal(inside[0]!.tls, true)
  assert.equal(inside[0]!.route?.name, 'mitm')
  assert.deepEqual(
    logged.filter((l) => l.method === 'CONNECT').map((l) => l.source),
    ['forward', 'forward'],
  )
  // `via`, the same mark without 'reverse'.
  assert.deepEqual(
    logged.map((l) => l.via),
    logged.map((l) => (l.method === 'CONNECT' ? 'forward' : 'mitm')),
  )
  assert.ok(await waitFor(() => fwd.gw.stats().connections === 0), 'no connection left')
})

test(
  'without the CA curl refuses the leaf; an origin the proxy cannot verify is a 502 unless mitm.unverified names it',
  { skip },
  async (t) => {
    const s = await setup(t)
    const fwd = await startForward(
      { allow: ['127.0.0.1'], mitm: { caDir: s.caDir, hosts: ['localhost'] } },
      { t },
    )
    const untrusted = await curl(['-x', fwd.proxy, `https://localhost:${s.port}/`])
    assert.equal(untrusted.code, 60, untrusted.stderr) // CURLE_PEER_FAILED_VERIFICATION
    // No upstreamCa: the origin's self-signed certificate is not trusted upstream.
    const r = await curl(['--cacert', s.caPem, '-x', fwd.proxy, '-i', `https://localhost:${s.port}/`])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /\r\n\r\nHTTP\/1\.1 502/)
    assert.match(r.stdout, /code: UPSTREAM_CONNECT_FAILED/)
    // The opt-out is per destination: `unverified` names localhost, not 127.0.0.1.
    const optOut = await startForward(
      {
        allow: ['127.0.0.1'],
        mitm: { caDir: s.caDir, hosts: ['localhost', '127.0.0.1'], unverified: ['localhost'] },
      },
      { t },
    )
    const named = await curl(['--cacert', s.caPem, '-x', optOut.proxy, '-i', `https://localhost:${s.port}/`])
    assert.match(named.stdout, /\r\n\r\nHTTP\/1\.1 200/)
    const other = await curl(['--cacert', s.caPem, '-x', optOut.proxy, '-i', `https://127.0.0.1:${s.port}/`])
    assert.match(other.stdout, /\r\n\r\nHTTP\/1\.1 502/)
  },
)

/** leafKeyOf: the public key (SPKI, base64) of the leaf the proxy presents for `host` through a CONNECT. */
function leafKeyOf(proxyPort: number, host: string, port: number, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(proxyPort, '127.0.0.1')
    raw.on('error', reject)
    raw.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`)
    raw.once('data', (d: Buffer) => {
      if (!d.toString('latin1').startsWith('HTTP/1.1 200')) return reject(new Error(d.toString('latin1')))
      const s = tls.connect(
        { socket: raw, ca: caPem, host, servername: net.isIP(host) ? undefined : host },
        () => {
          resolve(
            s.getPeerX509Certificate()!.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
          )
          s.destroy()
        },
      )
      s.on('error', reject)
    })
  })
}

test(
  'mitm.leafKey per-host: each host a key of its own; shared (the default): one key for all',
  { skip },
  async (t) => {
    const s = await setup(t)
    const caPem = await readFile(s.caPem, 'latin1')
    const keys = async (leafKey: 'shared' | 'per-host' | undefined) => {
      const fwd = await startForward(
        {
          allow: ['127.0.0.1'],
          mitm: { caDir: s.caDir, hosts: ['localhost', '127.0.0.1'], upstreamCa: s.originCert, leafKey },
        },
        { t },
      )
      const a = await leafKeyOf(fwd.port, 'localhost', s.port, caPem)
      const b = await leafKeyOf(fwd.port, '127.0.0.1', s.port, caPem)
      // A cached leaf is presented again with its key; requests go through as ever.
      assert.equal(await leafKeyOf(fwd.port, 'localhost', s.port, caPem), a)
      const r = await curl(['--cacert', s.caPem, '-x', fwd.proxy, `https://localhost:${s.port}/k`])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^secure GET \/k /)
      await fwd.close()
      return [a, b]
    }
    const [a, b] = await keys('per-host')
    assert.notEqual(a, b)
    const [c, d] = await keys(undefined)
    assert.equal(c, d)
    assert.ok(c !== a && c !== b)
  },
)

test('hosts not listed in mitm.hosts are tunnelled untouched', { skip }, async (t) => {
  const s = await setup(t)
  const fwd = await startForward(
    { allow: ['127.0.0.1'], mitm: { caDir: s.caDir, hosts: ['*.example.com'] } },
    { t },
  )
  // The origin's own certificate reaches curl: trusted with the origin's cert, not the CA.
  const r = await curl(['--cacert', s.originCert, '-x', fwd.proxy, `https://localhost:${s.port}/x`])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, `secure GET /x host=localhost:${s.port}`)
})

test(
  'garbage instead of TLS, a client leaving mid-handshake or right after CONNECT: closed, nothing leaks',
  { skip },
  async (t) => {
    const s = await setup(t)
    const fwd = await startForward(
      { allow: ['127.0.0.0/8'], mitm: { caDir: s.caDir, hosts: ['localhost', '127.0.0.0/8'] } },
      { t },
    )
    const connectThen = async (after: (socket: net.Socket) => void): Promise<boolean> => {
      const socket = net.connect(fwd.port, '127.0.0.1')
      socket.on('error', () => {})
      const closed = new Promise<boolean>((r) => socket.on('close', () => r(true)))
      socket.write(`CONNECT localhost:${s.port} HTTP/1.1\r\nHost: localhost:${s.port}\r\n\r\n`)
      await new Promise<void>((r) => socket.once('data', () => r()))
      after(socket)
      return Promise.race([closed, new Promise<boolean>((r) => setTimeout(() => r(false), 3000))])
    }
    assert.ok(await connectThen((sock) => sock.write('this is not a TLS record\r\n\r\n'.repeat(20))))
    // A ClientHello, then gone.
    assert.ok(
      await connectThen((sock) => {
        const client = tls.connect({ socket: sock, servername: 'localhost', rejectUnauthorized: false })
        client.on('error', () => {})
        setImmediate(() => sock.destroy())
      }),
    )
    // Clients gone right after their CONNECT, while their hosts' leaves are still being made.
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const sock = net.connect(fwd.port, '127.0.0.1')
        sock.on('error', () => {})
        await new Promise((r) => sock.once('connect', r))
        // 127.0.0.N: an intercepted host whose leaf is not made yet.
        sock.write(`CONNECT 127.0.0.${i + 2}:${s.port} HTTP/1.1\r\nHost: 127.0.0.${i + 2}:${s.port}\r\n\r\n`)
        await new Promise((r) => setTimeout(r, 1))
        sock.destroy()
      }),
    )
    assert.ok(await waitFor(() => fwd.gw.stats().connections === 0), 'no connection left')
    const ok = await curl(['--cacert', s.caPem, '-x', fwd.proxy, `https://localhost:${s.port}/`])
    assert.equal(ok.code, 0, ok.stderr) // the proxy still serves (a 502 here: no upstreamCa)
  },
)

test('a WebSocket round trip through interception', { skip }, async (t) => {
  const { WebSocket, WebSocketServer } = await import('ws')
  const { readFile } = await import('node:fs/promises')
  const s = await setup(t)
  const cert = await makeSelfSigned(s.dir, 'ws')
  const server = https.createServer({ cert: cert.cert, key: cert.key })
  const wss = new WebSocketServer({ server })
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${m.toString()}`)))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => stopWebSocketServer(server, wss))
  const port = (server.address() as net.AddressInfo).port
  const upgrades: string[] = []
  const fwd = await startForward(
    { allow: ['127.0.0.1'], mitm: { caDir: s.caDir, hosts: ['localhost'], upstreamCa: cert.certPath } },
    {
      t,
      hooks: { onUpstreamRequest: (session, req) => void upgrades.push(`${session.source} ${req.path}`) },
    },
  )
  const raw = net.connect(fwd.port, '127.0.0.1')
  t.after(() => raw.destroy())
  raw.write(`CONNECT localhost:${port} HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`)
  await new Promise<void>((r) => raw.once('data', () => r()))
  const ca = await readFile(s.caPem, 'utf8')
  const secure = tls.connect({ socket: raw, servername: 'localhost', ca })
  await new Promise<void>((r, j) => (secure.once('secureConnect', r), secure.once('error', j)))
  const ws = new WebSocket(`wss://localhost:${port}/chat`, { createConnection: () => secure })
  t.after(() => ws.terminate())
  await new Promise<void>((r, j) => (ws.once('open', r), ws.once('error', j)))
  ws.send('hello')
  const reply = await new Promise<string>((r) => ws.once('message', (m) => r(m.toString())))
  assert.equal(reply, 'echo hello')
  assert.deepEqual(upgrades, ['mitm /chat'])
})

test('an onConnect hook decides per CONNECT, over mitm.hosts', { skip }, async (t) => {
  const s = await setup(t)
  const fwd = await startForward(
    { allow: ['127.0.0.1'], mitm: { caDir: s.caDir, hosts: ['localhost'], upstreamCa: s.originCert } },
    // localhost is listed, but the hook tunnels it; 127.0.0.1 is not, but the hook intercepts it.
    {
      t,
      hooks: { onConnect: (session) => (session.destination!.host === 'localhost' ? 'tunnel' : 'intercept') },
    },
  )
  const tunnelled = await curl(['--cacert', s.originCert, '-x', fwd.proxy, `https://localhost:${s.port}/`])
  assert.equal(tunnelled.code, 0, tunnelled.stderr)
  const intercepted = await curl(['--cacert', s.caPem, '-x', fwd.proxy, `https://127.0.0.1:${s.port}/`])
  assert.equal(intercepted.code, 0, intercepted.stderr)
  assert.equal(intercepted.stdout, `secure GET / host=127.0.0.1:${s.port}`)
})

test(
  'whole-body hook: a gzip response decoded, rewritten, sent unencoded or gzip again (reencode); over the cap closes',
  { skip },
  async (t) => {
    const { gzipSync } = await import('node:zlib')
    const { rewriteBody } = await import('../../src/forward/whole-body.ts')
    const s = await setup(t)
    const page = gzipSync('<p>hello from the origin</p>')
    const { port, cert } = await startHttpsOrigin(t, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip', etag: '"v1"' })
      res.end(req.url === '/big' ? gzipSync('x'.repeat(100_000)) : page)
    })
    const fwd = await startForward(
      { allow: ['127.0.0.1'], mitm: { caDir: s.caDir, hosts: ['localhost'], upstreamCa: cert.certPath } },
      {
        t,
        hooks: {
          onResponse: (session, res) => {
            if (session.source === 'mitm')
              rewriteBody(res, (body) => body.toString().toUpperCase(), {
                maxSize: 10_000,
                reencode: session.head.target === '/again',
              })
          },
        },
      },
    )
    const r = await curl(['--cacert', s.caPem, '-x', fwd.proxy, '-i', `https://localhost:${port}/`])
    assert.equal(r.code, 0, r.stderr)
    const inner = r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4)
    assert.match(inner, /^HTTP\/1\.1 200 OK\r\n/)
    assert.doesNotMatch(inner, /content-encoding|etag|content-length/i)
    assert.match(inner, /transfer-encoding: chunked/i)
    assert.ok(inner.endsWith('\r\n\r\n<P>HELLO FROM THE ORIGIN</P>'), inner)
    const big = await curl(['--cacert', s.caPem, '-x', fwd.proxy, `https://localhost:${port}/big`])
    assert.notEqual(big.code, 0, 'never a truncated success')
    // reencode: gzip again, Content-Encoding kept; curl --compressed decodes it.
    const again = await curl(['--cacert', s.caPem, '-x', fwd.proxy, '-i', `https://localhost:${port}/again`])
    assert.equal(again.code, 0, again.stderr)
    const raw = again.stdout.slice(again.stdout.indexOf('\r\n\r\n') + 4)
    assert.match(raw, /content-encoding: gzip/i)
    assert.doesNotMatch(raw, /etag|content-length/i)
    const decoded = await curl([
      '--compressed',
      '--cacert',
      s.caPem,
      '-x',
      fwd.proxy,
      `https://localhost:${port}/again`,
    ])
    assert.equal(decoded.stdout, '<P>HELLO FROM THE ORIGIN</P>')
  },
)

test('HAR capture of intercepted requests, credentials redacted', { skip }, async (t) => {
  const { HarRecorder } = await import('../../src/forward/har.ts')
  const { readFile } = await import('node:fs/promises')
  const s = await setup(t)
  const har = new HarRecorder()
  const fwd = await startForward(
    { allow: ['127.0.0.1'], mitm: { caDir: s.caDir, hosts: ['localhost'], upstreamCa: s.originCert } },
    { t, hooks: har.hooks },
  )
  const url = `https://localhost:${s.port}/p?q=1&r=two`
  const r = await curl([
    '--cacert',
    s.caPem,
    '-x',
    fwd.proxy,
    '-H',
    'Authorization: Bearer secret',
    '-H',
    'Cookie: sid=1',
    url,
  ])
  assert.equal(r.code, 0, r.stderr)
  assert.ok(await waitFor(() => (har.toJSON() as { log: { entries: unknown[] } }).log.entries.length === 1))
  const path = join(s.dir, 'capture.har')
  await har.write(path)
  const doc = JSON.parse(await readFile(path, 'utf8'))
  assert.equal(doc.log.version, '1.2')
  const [e] = doc.log.entries
  assert.equal(e.request.url, url)
  assert.deepEqual(e.request.queryString, [
    { name: 'q', value: '1' },
    { name: 'r', value: 'two' },
  ])
  const header = (name: string) =>
    e.request.headers.find((h: { name: string }) => h.name.toLowerCase() === name)?.value
  assert.equal(header('authorization'), '[redacted]')
  assert.equal(header('cookie'), '[redacted]')
  assert.equal(e.response.status, 200)
  assert.equal(e.response.content.mimeType, 'text/plain')
  // The body, bounded: the origin answers `secure GET /p?q=1&r=two host=…`.
  assert.match(e.response.content.text, /^secure GET \/p\?q=1&r=two host=localhost:\d+$/)
  assert.equal(e.response.content.size, Buffer.byteLength(e.response.content.text))
  assert.ok(e.time > 0 && !Number.isNaN(Date.parse(e.startedDateTime)))
  assert.doesNotMatch(JSON.stringify(doc), /secret/)
})

test('HAR bodies: cut at maxBodySize and said so; gzip decoded; off with 0', { skip }, async (t) => {
  const { HarRecorder } = await import('../../src/forward/har.ts')
  const { gzipSync } = await import('node:zlib')
  const s = await setup(t)
  const { port, cert } = await startHttpsOrigin(t, (req, res) => {
    if (req.url === '/gz') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
      res.end(gzipSync('{"a":1}'))
    } else res.end('y'.repeat(1000))
  })
  const cut = new HarRecorder({ maxBodySize: 100 })
  const none = new HarRecorder({ maxBodySize: 0 })
  const fwd = await startForward(
    { allow: ['127.0.0.1'], mitm: { caDir: s.caDir, hosts: ['localhost'], upstreamCa: cert.certPath } },
    { t, hooks: [cut.hooks, none.hooks] },
  )
  for (const path of ['/long', '/gz']) {
    const r = await curl([
      '--compressed',
      '--cacert',
      s.caPem,
      '-x',
      fwd.proxy,
      `https://localhost:${port}${path}`,
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, path === '/gz' ? '{"a":1}' : 'y'.repeat(1000), 'the client gets the whole body')
  }
  type Doc = { log: { entries: { response: { content: Record<string, unknown> } }[] } }
  assert.ok(await waitFor(() => (cut.toJSON() as Doc).log.entries.length === 2))
  const [long, gz] = (cut.toJSON() as Doc).log.entries.map((e) => e.response.content)
  assert.equal(long!.size, 1000)
  assert.equal(long!.comment, 'body cut at 100 of 1000 bytes')
  assert.equal(long!.encoding, 'base64', 'no content-type: not known to be text')
  assert.equal(Buffer.from(long!.text as string, 'base64').toString(), 'y'.repeat(100))
  assert.equal(gz!.text, '{"a":1}')
  assert.equal(gz!.mimeType, 'application/json')
  const off = (none.toJSON() as Doc).log.entries.map((e) => e.response.content)
  assert.deepEqual(
    off.map((c) => c.text),
    [undefined, undefined],
  )
})
