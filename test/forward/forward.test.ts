/**
 * The forward proxy over real sockets, driven by curl: absolute-form
 * requests and CONNECT tunnels to local origins, the safe defaults (loopback
 * refused unless allowed, checked on the resolved address; CONNECT ports),
 * proxy authentication, chaining, bad input, and what the log sees.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import type { Session } from '../../src/core/session.ts'
import { hashPassword } from '../../src/config/password-hash.ts'
import { startOrigin } from '../helpers/gateway.ts'
import { curl, startBlackhole, startForward, waitFor } from '../helpers/forward.ts'
import { RawClient } from '../helpers/raw-client.ts'

test('absolute-form GET is proxied with Host from the target; Proxy-* fields are not forwarded', async (t) => {
  const origin = await startOrigin((req, res) => res.end(`path=${req.url}`), { t })
  const logged: Session[] = []
  const fwd = await startForward(
    { allow: ['127.0.0.1'] },
    { t, hooks: { onLog: (s) => void logged.push(s) } },
  )
  const r = await curl(['-x', fwd.proxy, '-H', 'Proxy-Connection: keep-alive', `${origin.url}/a/b?x=1`])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'path=/a/b?x=1')
  const seen = origin.requests[0]!
  assert.equal(seen.headers.host, `127.0.0.1:${origin.port}`)
  assert.equal(seen.headers['proxy-connection'], undefined)
  assert.equal(seen.headers['x-forwarded-for'], undefined, 'a forward proxy does not announce its clients')
  assert.ok(await waitFor(() => logged.length === 1))
  assert.equal(logged[0]!.source, 'forward')
  assert.equal(logged[0]!.via, 'forward')
  assert.deepEqual(logged[0]!.destination, { host: '127.0.0.1', port: origin.port, scheme: 'http' })
  assert.equal(logged[0]!.route?.name, 'forward')
})

test('loopback destinations are refused without allow, by address and by a name resolving to it', async (t) => {
  const origin = await startOrigin(undefined, { t })
  const fwd = await startForward({}, { t })
  for (const host of ['127.0.0.1', 'localhost']) {
    const r = await curl(['-x', fwd.proxy, '-i', `http://${host}:${origin.port}/`])
    assert.match(r.stdout, /^HTTP\/1\.1 403/, host)
    assert.match(r.stdout, /code: DESTINATION_FORBIDDEN/)
    const c = await curl(['-x', fwd.proxy, '-p', `http://${host}:${origin.port}/`])
    assert.notEqual(c.code, 0)
    assert.match(c.stderr, /403/)
  }
  assert.equal(origin.requests.length, 0)
  // Allowing the address lets the name that resolves to it through too.
  const allowed = await startForward({ allow: ['127.0.0.1'] }, { t })
  const ok = await curl(['-x', allowed.proxy, `http://localhost:${origin.port}/`])
  assert.equal(ok.stdout, 'ok')
})

test('CONNECT tunnels to an allowed destination; bytes are counted; ports other than 443 need allow', async (t) => {
  const origin = await startOrigin((_req, res) => res.end('tunnelled'), { t })
  const logged: Session[] = []
  const fwd = await startForward(
    { allow: [`127.0.0.1:${origin.port}`] },
    { t, hooks: { onLog: (s) => void logged.push(s) } },
  )
  const r = await curl(['-x', fwd.proxy, '-p', `${origin.url}/`])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'tunnelled')
  assert.ok(await waitFor(() => logged.length === 1))
  const s = logged[0]!
  assert.equal(s.method, 'CONNECT')
  assert.equal(s.status, 200)
  assert.ok(s.bytesIn > 50 && s.bytesOut > 50, `${s.bytesIn} ${s.bytesOut}`)
  assert.ok(await waitFor(() => fwd.gw.stats().connections === 0), 'both sockets closed')
  // Another port of the same address is not allowed by that entry.
  const other = await startOrigin(undefined, { t })
  const refused = await curl(['-x', fwd.proxy, '-p', `${other.url}/`])
  assert.match(refused.stderr, /403/)
})

test('CONNECT failures: 502 refused with the stable body, 504 on connect timeout', async (t) => {
  const closed = net.createServer()
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
  const port = (closed.address() as net.AddressInfo).port
  await new Promise((r) => closed.close(r))
  const fwd = await startForward(
    { allow: ['127.0.0.1', '10.255.255.1'], timeouts: { connect: '300ms' } },
    { t },
  )
  const c = await RawClient.connect(fwd.port, t)
  c.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
  const res = await c.response()
  assert.equal(res.status, 502)
  assert.match(res.body.toString(), /code: UPSTREAM_CONNECT_REFUSED/)
  assert.ok(await c.closedWithin(1000))
  const hole = await startBlackhole(t)
  const d = await RawClient.connect(fwd.port, t)
  d.write(`CONNECT 127.0.0.1:${hole.port} HTTP/1.1\r\nHost: x\r\n\r\n`)
  const timedOut = await d.response()
  assert.equal(timedOut.status, 504)
  assert.match(timedOut.body.toString(), /code: UPSTREAM_CONNECT_TIMEOUT/)
})

test('proxy authentication: 407 with Proxy-Authenticate, then through with the right credentials', async (t) => {
  const origin = await startOrigin(undefined, { t })
  const fwd = await startForward(
    { allow: ['127.0.0.1'], auth: { users: { alice: hashPassword('s3cret') } } },
    { t },
  )
  const none = await curl(['-x', fwd.proxy, '-i', `${origin.url}/`])
  assert.match(none.stdout, /^HTTP\/1\.1 407/)
  assert.match(none.stdout, /proxy-authenticate: Basic realm="portcullis", charset="UTF-8"/i)
  const wrong = await curl(['-x', fwd.proxy, '-U', 'alice:nope', '-i', `${origin.url}/`])
  assert.match(wrong.stdout, /^HTTP\/1\.1 407/)
  const ok = await curl(['-x', fwd.proxy, '-U', 'alice:s3cret', `${origin.url}/`])
  assert.equal(ok.stdout, 'ok')
  assert.equal(origin.requests.length, 1)
  assert.equal(origin.requests[0]!.headers['proxy-authorization'], undefined)
  const tunnel = await curl(['-x', fwd.proxy, '-U', 'alice:s3cret', '-p', `${origin.url}/`])
  assert.equal(tunnel.stdout, 'ok')
})

test('chaining: a destination pattern goes through an upstream proxy, plain and CONNECT', async (t) => {
  const origin = await startOrigin((req, res) => res.end(`via ${req.headers.via}`), { t })
  const logged: Session[] = []
  const next = await startForward(
    { allow: ['127.0.0.1'] },
    { t, hooks: { onLog: (s) => void logged.push(s) } },
  )
  // The first proxy applies its own port rule (CONNECT to a port other than 443 needs allow).
  const first = await startForward(
    { allow: [`127.0.0.1:${origin.port}`], chain: [{ match: ['127.0.0.1'], proxy: next.proxy }] },
    { t },
  )
  const plain = await curl(['-x', first.proxy, `${origin.url}/x`])
  assert.equal(plain.stdout, 'via 1.1 portcullis, 1.1 portcullis')
  const tunnel = await curl(['-x', first.proxy, '-p', `${origin.url}/y`])
  assert.equal(tunnel.code, 0, tunnel.stderr)
  assert.equal(tunnel.stdout, 'via undefined')
  assert.ok(await waitFor(() => logged.length === 2))
  assert.deepEqual(
    logged.map((s) => s.method),
    ['GET', 'CONNECT'],
  )
})

test('bad input: bad authorities and origin-form get 400, the proxy keeps serving', async (t) => {
  const origin = await startOrigin(undefined, { t })
  const fwd = await startForward({ allow: ['127.0.0.1'] }, { t })
  for (const line of [
    'CONNECT 127.0.0.1:99999 HTTP/1.1',
    'CONNECT bad_host!:443 HTTP/1.1',
    'CONNECT [::1:443 HTTP/1.1',
    'CONNECT 127.0.0.1 HTTP/1.1',
    'GET / HTTP/1.1',
  ]) {
    const c = await RawClient.connect(fwd.port, t)
    c.write(`${line}\r\nHost: x\r\n\r\n`)
    const res = await c.response()
    assert.equal(res.status, 400, line)
    assert.ok(await c.closedWithin(1000), line)
  }
  const ok = await curl(['-x', fwd.proxy, `${origin.url}/`])
  assert.equal(ok.stdout, 'ok')
  assert.ok(await waitFor(() => fwd.gw.stats().connections === 0))
})

test('never to the proxy itself, even when allowed; a silent tunnel is closed after tunnelIdle', async (t) => {
  const origin = await startOrigin(undefined, { t })
  const fwd = await startForward({ allow: ['127.0.0.1'], timeouts: { tunnelIdle: '300ms' } }, { t })
  const loop = await curl(['-x', fwd.proxy, '-i', `http://127.0.0.1:${fwd.port}/`])
  assert.match(loop.stdout, /^HTTP\/1\.1 403/)
  const c = await RawClient.connect(fwd.port, t)
  c.write(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: x\r\n\r\n`)
  const opened = await c.response({ head: true })
  assert.equal(opened.status, 200)
  assert.ok(await c.closedWithin(2000), 'closed after 300 ms of silence')
  assert.ok(await waitFor(() => fwd.gw.stats().connections === 0))
})
