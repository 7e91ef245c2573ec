/**
 * Interception combined with chaining: an intercepted host that a
 * `forward.chain` rule names reaches its HTTPS origin through the chained
 * proxy (a CONNECT there, then TLS to the origin over it, verified as
 * usual), pooled per destination. The parents here are a minimal CONNECT
 * proxy written in the test (it counts CONNECTs and checks the credentials
 * of the chain URL) and a second Portcullis forward listener. A parent that
 * is down, or refuses the CONNECT, is a 502 (one that never accepts a 504)
 * with the stable error body, and the error log says why.
 */
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import net from 'node:net'
import { test } from 'node:test'
import type { Session } from '../../src/core/session.ts'
import type { UpstreamTryMessage } from '../../src/observe/channels.ts'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { startConnectProxy } from '../helpers/connect-proxy.ts'
import { curl, startBlackhole, startForward, waitFor } from '../helpers/forward.ts'
import { mitmFixture } from '../helpers/https-origin.ts'

const skip = !(await hasOpenssl()) && 'needs openssl'

async function setup(t: import('node:test').TestContext) {
  const { caDir, caPemPath, cert, port } = await mitmFixture(t, (req, res) => {
    res.end(`secure ${req.method} ${req.url} host=${req.headers.host}`)
  })
  const mitm = { caDir, hosts: ['localhost'], upstreamCa: cert.certPath }
  return { caPem: caPemPath, port, mitm }
}

test(
  'an intercepted host a chain names: CONNECT to the parent with its credentials, TLS to the origin over it, pooled',
  { skip },
  async (t) => {
    const s = await setup(t)
    const parent = await startConnectProxy(t)
    const logged: Session[] = []
    const fwd = await startForward(
      {
        ports: [s.port],
        mitm: s.mitm,
        chain: [{ match: ['localhost'], proxy: parent.url.replace('//', '//al%40ce:p%3Ass@') }],
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
    const url = `https://localhost:${s.port}`
    // Two requests in one curl run (one client tunnel); then a second run (a new client tunnel).
    const r = await curl(['--cacert', s.caPem, '-x', fwd.proxy, '-i', `${url}/a`, `${url}/b`])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /x-intercepted: localhost/i)
    assert.match(r.stdout, new RegExp(`secure GET /a host=localhost:${s.port}`))
    assert.match(r.stdout, new RegExp(`secure GET /b host=localhost:${s.port}`))
    const again = await curl(['--cacert', s.caPem, '-x', fwd.proxy, `${url}/c`])
    assert.equal(again.stdout, `secure GET /c host=localhost:${s.port}`)
    // The parent saw CONNECTs for the destination with the chain URL's credentials, one per pooled
    // connection (the three requests went one at a time: one connection served them all).
    assert.deepEqual(parent.connects, [
      { target: `localhost:${s.port}`, auth: `Basic ${Buffer.from('al@ce:p:ss').toString('base64')}` },
    ])
    assert.ok(await waitFor(() => logged.filter((l) => l.source === 'mitm').length === 3))
    for (const l of logged.filter((l) => l.source === 'mitm')) {
      assert.equal(l.route?.name, 'mitm')
      assert.equal(l.target, `https://localhost:${s.port}`)
    }
  },
)

test(
  'a Portcullis forward listener as the parent: it sees the CONNECT, the response arrives',
  { skip },
  async (t) => {
    const s = await setup(t)
    const seen: string[] = []
    const parent = await startForward(
      { allow: ['localhost', '127.0.0.1'] },
      { t, hooks: { onLog: (session) => void seen.push(`${session.method} ${session.head.target}`) } },
    )
    const hosts = ['localhost', '127.0.0.1']
    const fwd = await startForward(
      {
        ports: [s.port],
        mitm: { ...s.mitm, hosts },
        chain: [{ match: hosts, proxy: parent.proxy }],
      },
      { t },
    )
    // A name (SNI and certificate name) and an IP (no SNI, the certificate's IP address checked).
    for (const host of hosts) {
      const r = await curl(['--cacert', s.caPem, '-x', fwd.proxy, `https://${host}:${s.port}/p`])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout, `secure GET /p host=${host}:${s.port}`)
    }
    // The parent logs a tunnel when it closes: the pooled connections are closed with the proxy.
    await fwd.close()
    assert.ok(await waitFor(() => seen.length === 2), `parent saw ${seen.join(', ')}`)
    assert.deepEqual(seen.sort(), [`CONNECT 127.0.0.1:${s.port}`, `CONNECT localhost:${s.port}`])
  },
)

test(
  'the parent down, refusing the CONNECT or never accepting: 502 / 504 with the stable error body, logged why',
  { skip },
  async (t) => {
    const s = await setup(t)
    const tries: UpstreamTryMessage[] = []
    const onTry = (m: unknown) => void tries.push(m as UpstreamTryMessage)
    diagnostics.subscribe('portcullis:upstream:try', onTry)
    t.after(() => diagnostics.unsubscribe('portcullis:upstream:try', onTry))
    // A port with nothing listening.
    const closed = net.createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const downPort = (closed.address() as net.AddressInfo).port
    await new Promise<void>((r) => closed.close(() => r()))
    const refusing = await startConnectProxy(t, { status: 407 })
    const logged: string[] = []
    const { describeCause } = await import('../../src/observe/upstream-failure.ts')
    const blackhole = await startBlackhole(t)
    for (const [proxy, status, code, why, cause] of [
      [
        `http://127.0.0.1:${downPort}`,
        502,
        'UPSTREAM_CONNECT_REFUSED',
        /chained proxy 127\.0\.0\.1:\d+: connect: ECONNREFUSED/,
        /chained proxy 127\.0\.0\.1:\d+: connect ECONNREFUSED/,
      ],
      [
        refusing.url,
        502,
        'UPSTREAM_CONNECT_FAILED',
        /chained proxy 127\.0\.0\.1:\d+ answered 407/,
        /chained proxy 127\.0\.0\.1:\d+ answered 407/,
      ],
      // A parent that never accepts: the connect timeout, 504.
      [
        `http://127.0.0.1:${blackhole.port}`,
        504,
        'UPSTREAM_CONNECT_TIMEOUT',
        /connect timeout/,
        /connect timeout after \d+ ms/,
      ],
    ] as const) {
      const fwd = await startForward(
        {
          ports: [s.port],
          mitm: s.mitm,
          chain: [{ match: ['localhost'], proxy }],
          timeouts: { connect: '300ms' },
        },
        { t },
      )
      const r = await curl(['--cacert', s.caPem, '-x', fwd.proxy, '-i', `https://localhost:${s.port}/`])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, new RegExp(`\r\n\r\nHTTP/1\\.1 ${status}`))
      assert.match(r.stdout, new RegExp(`code: ${code}`))
      const failed = tries.filter((m) => m.gateway === fwd.gw && m.error !== undefined)
      assert.ok(failed.length >= 1)
      assert.match(failed[0]!.error!.message, why)
      // What the error log prints as the cause (src/observe/upstream-failure.ts).
      logged.push(describeCause(failed[0]!.error!, failed[0]!.target, 0).cause)
      assert.match(logged.at(-1)!, cause)
      assert.ok(await waitFor(() => fwd.gw.stats().connections === 0), 'no connection left')
    }
    assert.equal(refusing.connects.length, 1)
  },
)
