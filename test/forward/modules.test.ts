/**
 * Route modules on forward-proxied and intercepted Sessions (ARCHITECTURE.md
 * "One Session, three sources"): `forward.route` gives the forward, chained
 * and mitm routes the modules a reverse route has, and they run the same:
 * here a rate limit (429 after the burst, counted across plain forwarding,
 * CONNECT and the requests inside interception, one route's limiter),
 * request and response header changes, and an access list on the client's
 * address. Driven by curl over real sockets.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type net from 'node:net'
import { test } from 'node:test'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { curl, startForward } from '../helpers/forward.ts'
import { mitmFixture } from '../helpers/https-origin.ts'

const skip = !(await hasOpenssl()) && 'needs openssl'

async function origins(t: import('node:test').TestContext) {
  const answer = (req: http.IncomingMessage, res: http.ServerResponse) =>
    res.end(`tag=${req.headers['x-forward-tag'] ?? 'none'}`)
  const secure = await mitmFixture(t, answer)
  const plain = http.createServer(answer)
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => (plain.closeAllConnections(), plain.close(() => r()))))
  return {
    caDir: secure.caDir,
    caPem: secure.caPemPath,
    originCert: secure.cert.certPath,
    securePort: secure.port,
    plainPort: (plain.address() as net.AddressInfo).port,
  }
}

test(
  'forward.route modules run on forward and mitm sessions: headers both ways, one rate limit',
  { skip },
  async (t) => {
    const o = await origins(t)
    const fwd = await startForward(
      {
        allow: ['127.0.0.1', 'localhost'],
        mitm: { caDir: o.caDir, hosts: ['localhost'], upstreamCa: o.originCert },
        route: {
          headers: {
            request: { set: { 'x-forward-tag': 'set-by-module' } },
            response: { set: { 'x-module': 'yes' } },
          },
          // Six requests a day per client address, whichever the door: the seventh is refused (mitm sessions know the client too).
          rateLimit: { rate: '6/d', burst: 6, key: 'client.ip' },
        },
      },
      { t },
    )
    const plain = await curl(['-i', '-x', fwd.proxy, `http://127.0.0.1:${o.plainPort}/a`])
    assert.equal(plain.code, 0, plain.stderr)
    assert.match(plain.stdout, /^HTTP\/1\.1 200/)
    assert.match(plain.stdout, /x-module: yes/i)
    assert.match(plain.stdout, /tag=set-by-module$/)
    // One CONNECT (a request of the forward route) and two requests inside it (the mitm route).
    const inside = await curl([
      '-i',
      '--cacert',
      o.caPem,
      '-x',
      fwd.proxy,
      `https://localhost:${o.securePort}/b`,
      `https://localhost:${o.securePort}/c`,
    ])
    assert.equal(inside.code, 0, inside.stderr)
    assert.equal(inside.stdout.match(/tag=set-by-module/g)?.length, 2, inside.stdout)
    assert.equal(inside.stdout.match(/x-module: yes/gi)?.length, 2)
    // 1 + 3 used of 6: two more pass, the next is refused by the limiter, as on a reverse route.
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) {
      const r = await curl([
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-x',
        fwd.proxy,
        `http://127.0.0.1:${o.plainPort}/n${i}`,
      ])
      statuses.push(Number(r.stdout))
    }
    assert.deepEqual(statuses, [200, 200, 429])
    // A CONNECT over the limit is refused before any tunnel or interception.
    const refused = await curl([
      '-i',
      '--cacert',
      o.caPem,
      '-x',
      fwd.proxy,
      `https://localhost:${o.securePort}/d`,
    ])
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr + refused.stdout, /429/)
  },
)

test('forward.route access list refuses a client address on every door', { skip }, async (t) => {
  const o = await origins(t)
  const fwd = await startForward(
    {
      allow: ['127.0.0.1', 'localhost'],
      mitm: { caDir: o.caDir, hosts: ['localhost'], upstreamCa: o.originCert },
      route: { access: { deny: ['127.0.0.1'] } },
    },
    { t },
  )
  const plain = await curl([
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '-x',
    fwd.proxy,
    `http://127.0.0.1:${o.plainPort}/`,
  ])
  assert.equal(plain.stdout, '403')
  const connect = await curl([
    '-i',
    '--cacert',
    o.caPem,
    '-x',
    fwd.proxy,
    `https://localhost:${o.securePort}/`,
  ])
  assert.notEqual(connect.code, 0)
  assert.match(connect.stderr + connect.stdout, /403/)
})
