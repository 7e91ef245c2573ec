/**
 * The bypasses an outside attack found (issue 10), each reproduced over real
 * sockets as the attack did it: h2c smuggling past a route that answers 403,
 * path encodings that skipped route rules, a no-break space read as OWS in
 * Transfer-Encoding and Connection, and header names with underscores that
 * CGI-style backends fold into framing fields. (Slow uploads: slow-uploads.test.ts.)
 */
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import type { GatewayConfigInput } from '../../src/config/schema.ts'
import type { Session } from '../../src/core/session.ts'
import { type RawConnection, startGateway, startOrigin, startRawOrigin, waitFor } from '../helpers/gateway.ts'
import { RawClient } from '../helpers/raw-client.ts'

/**
 * h2cOrigin answers an `Upgrade: h2c` request with 101 and then treats every
 * later byte as a request on the switched protocol, answering with the
 * secret; any other request gets 200 and the head it saw as the body.
 */
async function h2cOrigin(t: TestContext, answer101 = 'h2c') {
  const switched = new Set<RawConnection>()
  return startRawOrigin(
    function onData(conn, chunk) {
      if (switched.has(conn)) {
        conn.socket.write(`SECRET for ${JSON.stringify(chunk.toString('latin1').slice(0, 40))}`)
        return
      }
      const text = conn.data.toString('latin1')
      if (!text.includes('\r\n\r\n')) return
      if (/^upgrade:/im.test(text)) {
        switched.add(conn)
        conn.socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${answer101}\r\n\r\n`,
        )
        return
      }
      conn.data = Buffer.alloc(0)
      conn.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`)
    },
    { t },
  )
}

/** A gateway whose `/admin` route answers 403 itself and everything else goes to `origin`. */
function guarded(origin: string, extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
  return {
    upstreams: { origin: { targets: [{ url: origin }] } },
    routes: [
      { match: { path: '/admin' }, respond: { status: 403, body: 'forbidden' } },
      { match: { path: '/internal' }, respond: { status: 403, body: 'forbidden' } },
      { match: {}, upstream: 'origin' },
    ],
    ...extra,
  }
}

const H2C_SETTINGS = 'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA'

describe('h2c smuggling', () => {
  for (const connection of ['Upgrade', 'Upgrade, HTTP2-Settings']) {
    it(`an h2c upgrade (Connection: ${connection}) is not forwarded, so no tunnel reaches /admin`, async (t) => {
      const origin = await h2cOrigin(t)
      const gw = await startGateway(guarded(origin.url), { t })
      const c = await RawClient.connect(gw.port, t)
      c.write(
        `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n${H2C_SETTINGS}\r\nConnection: ${connection}\r\n\r\n`,
      )
      const first = await c.response()
      assert.equal(first.status, 200, 'a plain response, not 101')
      const seen = first.body.toString('latin1')
      assert.doesNotMatch(seen, /^upgrade:/im)
      assert.doesNotMatch(seen, /^http2-settings:/im)
      // What the attack sent next, meant for the origin over the tunnel, is the next HTTP/1.1 request here.
      c.write('GET /admin/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n')
      const second = await c.response()
      assert.equal(second.status, 403)
      assert.equal(origin.connections.length, 1)
      assert.doesNotMatch(origin.received().toString('latin1'), /secret/)
    })
  }

  it('HTTP2-Settings is removed even when nothing else about the request is an upgrade', async (t) => {
    const origin = await h2cOrigin(t)
    const gw = await startGateway(guarded(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write(`GET / HTTP/1.1\r\nHost: x\r\n${H2C_SETTINGS}\r\n\r\n`)
    const res = await c.response()
    assert.equal(res.status, 200)
    assert.doesNotMatch(res.body.toString('latin1'), /http2-settings/i)
  })

  /** through sends `head` via a guarded gateway to an origin answering upgrades with `answer101`. */
  async function through(t: TestContext, answer101: string, head: string, config = guarded) {
    const origin = await h2cOrigin(t, answer101)
    const gw = await startGateway(config(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write(head)
    return { res: await c.response(), origin }
  }

  it('a 101 for a protocol the client did not ask for is a 502', async (t) => {
    const ws = 'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'
    const { res } = await through(t, 'h2c', ws)
    assert.equal(res.status, 502)
    assert.match(res.body.toString(), /UPSTREAM_INVALID_RESPONSE/)
  })

  it('upgrades are per route: upgrades: [] forwards a websocket request as a plain one', async (t) => {
    const noUpgrades = (url: string) => {
      const config = guarded(url)
      config.routes![2] = { match: {}, upstream: 'origin', upgrades: [] }
      return config
    }
    const ws = 'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n'
    const { res } = await through(t, 'websocket', ws, noUpgrades)
    assert.equal(res.status, 200)
    assert.doesNotMatch(res.body.toString('latin1'), /^upgrade:/im)
  })

  it('only the allowed members of an Upgrade list pass, compared case-insensitively', async (t) => {
    const both = 'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: h2c, WebSocket\r\nConnection: Upgrade\r\n\r\n'
    const { res, origin } = await through(t, 'WebSocket', both)
    assert.equal(res.status, 101)
    assert.match(origin.received().toString('latin1'), /\r\nUpgrade: WebSocket\r\n/)
    assert.doesNotMatch(origin.received().toString('latin1'), /h2c/)
  })
})

describe('path normalisation', () => {
  async function attack(t: TestContext, extra: Partial<GatewayConfigInput> = {}) {
    const origin = await startOrigin(undefined, { t })
    const gw = await startGateway(guarded(origin.url, extra), { t })
    return {
      origin,
      async status(target: string): Promise<number> {
        const c = await RawClient.connect(gw.port, t)
        c.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
        return (await c.response()).status
      },
    }
  }

  it('the forms that skipped /admin and /internal are matched as the path the origin reads, or refused', async (t) => {
    const { origin, status } = await attack(t)
    const expected: [string, number][] = [
      ['/%61dmin', 403],
      ['//admin', 403],
      ['/%7Eadmin', 200], // `/~admin`: another path, for the origin too
      ['/internal//secret', 403],
      ['/x/..%2fadmin', 400],
      ['/%2fadmin', 400],
      ['/x/..\\admin', 400],
      ['/admin#x', 400],
      ['/x/%2e%2e/admin', 403],
      ['/a%00/../admin', 400],
    ]
    for (const [target, want] of expected) assert.equal(await status(target), want, target)
    assert.deepEqual(
      origin.requests.map((r) => r.url),
      ['/~admin'],
    )
  })

  it('encodedSlashes: decode matches an encoded slash as a slash', async (t) => {
    const { origin, status } = await attack(t, { paths: { encodedSlashes: 'decode' } })
    for (const target of ['/x/..%2fadmin', '/%2fadmin', '/x/..%5Cadmin', '/x/..\\admin'])
      assert.equal(await status(target), 403, target)
    assert.equal(await status('/a%2Fb'), 200)
    assert.deepEqual(
      origin.requests.map((r) => r.url),
      ['/a/b'],
    )
  })

  it('mergeSlashes: false keeps // (and /admin rules do not match //admin)', async (t) => {
    const { origin, status } = await attack(t, { paths: { mergeSlashes: false } })
    assert.equal(await status('//admin'), 200)
    assert.equal(origin.requests[0]!.url, '//admin')
  })

  it('the origin receives the path that was matched; the query is untouched', async (t) => {
    const { origin, status } = await attack(t)
    assert.equal(await status('/a//b/%7Euser/./c/%2e%2e/d%20e?q=%2F//../x'), 200)
    assert.equal(origin.requests[0]!.url, '/a/b/~user/d%20e?q=%2F//../x')
  })

  it('hooks see the normalised path too', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const paths: string[] = []
    const gw = await startGateway(guarded(origin.url), {
      t,
      hooks: { onRequestHead: (s: Session) => void paths.push(s.path) },
    })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET /%61dmin HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.equal((await c.response()).status, 403)
    assert.deepEqual(paths, ['/admin'])
  })
})

describe('whitespace that is not OWS', () => {
  it('Transfer-Encoding: \\xA0chunked is refused, never forwarded as chunked', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const gw = await startGateway(guarded(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \xa0chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
    const res = await c.response()
    assert.equal(res.status, 400)
    assert.equal(origin.requests.length, 0)
  })

  it('Connection: \\xA0close is not close: the connection persists', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const gw = await startGateway(guarded(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET /1 HTTP/1.1\r\nHost: x\r\nConnection: \xa0close\r\n\r\n')
    const first = await c.response()
    assert.equal(first.status, 200)
    assert.equal(first.headers.connection, undefined)
    c.write('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.equal((await c.response()).status, 200)
    await waitFor(() => origin.requests.length === 2, 'both requests at the origin')
  })
})

describe('header names with underscores', () => {
  const head =
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer_Encoding: chunked\r\nContent_Length: 0\r\nX_Api_Key: k\r\nX-Api-Key: ok\r\n\r\nhello'

  it('are dropped by default (nginx underscores_in_headers off)', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const gw = await startGateway(guarded(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write(head)
    assert.equal((await c.response()).status, 200)
    const names = origin.requests[0]!.rawHeaders.filter((_, i) => i % 2 === 0)
    assert.deepEqual(
      names.filter((n) => n.includes('_')),
      [],
    )
    assert.equal(origin.requests[0]!.headers['x-api-key'], 'ok')
    assert.equal(origin.requests[0]!.body.toString(), 'hello')
  })

  it('are forwarded with proxy.underscoresInHeaders: true', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const gw = await startGateway(guarded(origin.url, { proxy: { underscoresInHeaders: true } }), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write(head)
    assert.equal((await c.response()).status, 200)
    const names = origin.requests[0]!.rawHeaders.filter((_, i) => i % 2 === 0)
    assert.deepEqual(
      names.filter((n) => n.includes('_')),
      ['Transfer_Encoding', 'Content_Length', 'X_Api_Key'],
    )
  })
})
