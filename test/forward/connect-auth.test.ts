/**
 * Proxy authentication on CONNECT (RFC 9110 §11.7.1, §15.5.8), not only on
 * absolute-form requests: without Proxy-Authorization, or with wrong
 * credentials, a CONNECT is answered 407 with `Proxy-Authenticate` and no
 * connection is made to the destination; the right credentials open the
 * tunnel.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hashPassword } from '../../src/config/password-hash.ts'
import { startOrigin } from '../helpers/gateway.ts'
import { curl, startForward } from '../helpers/forward.ts'
import { RawClient } from '../helpers/raw-client.ts'

const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`

test('CONNECT without the right Proxy-Authorization is 407 with Proxy-Authenticate; the right one tunnels', async (t) => {
  const origin = await startOrigin((req, res) => res.end(`tunnelled ${req.url}`), { t })
  const fwd = await startForward(
    {
      allow: [`127.0.0.1:${origin.port}`],
      auth: { realm: 'tunnels', users: { alice: hashPassword('s3cret') } },
    },
    { t },
  )
  const authority = `127.0.0.1:${origin.port}`
  for (const [why, field] of [
    ['no credentials', undefined],
    ['a wrong password', basic('alice:nope')],
    ['an unknown user', basic('mallory:s3cret')],
    ['another scheme', 'Bearer s3cret'],
  ] as const) {
    const c = await RawClient.connect(fwd.port, t)
    c.write(
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n` +
        (field === undefined ? '' : `Proxy-Authorization: ${field}\r\n`) +
        '\r\n',
    )
    const res = await c.response()
    assert.equal(res.status, 407, why)
    assert.equal(res.headers['proxy-authenticate'], 'Basic realm="tunnels", charset="UTF-8"', why)
    assert.match(res.body.toString(), /code: PROXY_AUTH_REQUIRED/, why)
    assert.ok(await c.closedWithin(2000), `${why}: closed after the 407, never a tunnel`)
  }
  assert.equal(origin.connections, 0, 'no connection to the destination without credentials')

  // The right credentials: 200, then the tunnel carries an HTTP exchange to the origin.
  const c = await RawClient.connect(fwd.port, t)
  c.write(
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${basic('alice:s3cret')}\r\n\r\n`,
  )
  const opened = await c.response({ head: true })
  assert.equal(opened.status, 200)
  assert.equal(opened.headers['proxy-authenticate'], undefined)
  c.write(`GET /inside HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`)
  const inside = await c.response()
  assert.equal(inside.status, 200)
  assert.equal(inside.body.toString(), 'tunnelled /inside')
  assert.equal(origin.connections, 1)
  // The credentials went to the proxy only: the tunnelled request never carried them.
  assert.equal(origin.requests[0]!.headers['proxy-authorization'], undefined)

  // curl agrees: without -U its CONNECT is refused with 407 (exit 56); with it the tunnel works.
  const refused = await curl(['-x', fwd.proxy, '-p', `${origin.url}/`])
  assert.equal(refused.code, 56, refused.stderr)
  assert.match(refused.stderr, /407/)
  const ok = await curl(['-x', fwd.proxy, '-U', 'alice:s3cret', '-p', `${origin.url}/curl`])
  assert.equal(ok.code, 0, ok.stderr)
  assert.equal(ok.stdout, 'tunnelled /curl')
})
