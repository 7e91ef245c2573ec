/**
 * What the gateway changes in heads on the way through, and what it must
 * leave alone: hop-by-hop fields (RFC 9110 §7.6.1) in both directions,
 * X-Forwarded-* and trust, Via (§7.6.3), Host, request ids, W3C trace
 * context, raw field case and order, target base paths and absolute-form
 * request targets (RFC 9112 §3.2.2).
 */
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import type { GatewayConfigInput } from '../../src/config/schema.ts'
import {
  type OriginRequest,
  proxyConfig,
  startGateway,
  startOrigin,
  startRawOrigin,
} from '../helpers/gateway.ts'
import { type ClientResponse, RawClient } from '../helpers/raw-client.ts'

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** values returns every value of field `name` (any case) in a flat raw list, in order. */
function values(raw: readonly string[], name: string): string[] {
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!)
  return out
}

/** one asserts that field `name` appears exactly once and returns its value. */
function one(raw: readonly string[], name: string): string {
  const v = values(raw, name)
  assert.equal(v.length, 1, `${name}: expected one field, got ${JSON.stringify(v)}`)
  return v[0]!
}

/**
 * through starts an origin that answers `ok`, a gateway (`config` tweaks a
 * catch-all proxy config), sends `head` (plus `body`) and returns what the
 * origin received and what the client got.
 */
async function through(
  t: TestContext,
  head: string,
  config: Parameters<typeof proxyConfig>[1] = {},
  body = '',
): Promise<{ seen: OriginRequest; res: ClientResponse; originUrl: string }> {
  const origin = await startOrigin(undefined, { t })
  const gw = await startGateway(proxyConfig(origin.url, config), { t })
  const c = await RawClient.connect(gw.port, t)
  c.write(`${head}\r\n${body}`)
  const res = await c.response()
  assert.equal(res.status, 200, res.body.toString())
  assert.equal(origin.requests.length, 1)
  return { seen: origin.requests[0]!, res, originUrl: origin.url }
}

describe('hop-by-hop fields', () => {
  it('are removed from requests, with every field the Connection header names', async (t) => {
    const { seen } = await through(
      t,
      'POST /h HTTP/1.1\r\n' +
        'Host: example.test\r\n' +
        'Connection: keep-alive, X-Secret\r\n' +
        'Keep-Alive: timeout=5\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'TE: trailers\r\n' +
        'Trailer: X-Checksum\r\n' +
        'Upgrade: h2c\r\n' +
        'X-Secret: hush\r\n' +
        'X-Keep: yes\r\n' +
        'Transfer-Encoding: chunked\r\n',
      {},
      '5\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n',
    )
    for (const name of [
      'connection',
      'keep-alive',
      'proxy-connection',
      'te',
      'trailer',
      'upgrade',
      'x-secret',
    ]) {
      assert.deepEqual(values(seen.rawHeaders, name), [], `${name} reached the origin`)
    }
    assert.equal(one(seen.rawHeaders, 'x-keep'), 'yes')
    // Transfer-Encoding is this hop's framing: the gateway states its own, once.
    assert.equal(one(seen.rawHeaders, 'transfer-encoding'), 'chunked')
    assert.equal(seen.body.toString(), 'hello')
  })

  it('do not leak a client Transfer-Encoding onto a Content-Length request', async (t) => {
    const { seen } = await through(
      t,
      'POST /h HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\nTE: gzip\r\n',
      {},
      'hello',
    )
    assert.deepEqual(values(seen.rawHeaders, 'transfer-encoding'), [])
    assert.deepEqual(values(seen.rawHeaders, 'te'), [])
    assert.equal(one(seen.rawHeaders, 'content-length'), '5')
  })

  it('are removed from responses, with every field the upstream Connection header names', async (t) => {
    const origin = await startRawOrigin(
      (conn) => {
        if (!conn.data.includes('\r\n\r\n')) return
        conn.socket.write(
          'HTTP/1.1 200 OK\r\n' +
            'Connection: X-Internal\r\n' +
            'Keep-Alive: timeout=5, max=100\r\n' +
            'Proxy-Connection: keep-alive\r\n' +
            'TE: trailers\r\n' +
            'Trailer: X-Checksum\r\n' +
            'Upgrade: h2c\r\n' +
            'X-Internal: backend-7\r\n' +
            'X-Public: shown\r\n' +
            'Transfer-Encoding: chunked\r\n' +
            '\r\n' +
            '2\r\nhi\r\n0\r\n\r\n',
        )
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n')
    const res = await c.response()
    assert.equal(res.status, 200)
    for (const name of [
      'connection',
      'keep-alive',
      'proxy-connection',
      'te',
      'trailer',
      'upgrade',
      'x-internal',
    ]) {
      assert.equal(res.headers[name], undefined, `${name} reached the client`)
    }
    assert.equal(res.headers['x-public'], 'shown')
    assert.equal(one(res.rawHeaders, 'transfer-encoding'), 'chunked')
    assert.equal(res.body.toString(), 'hi')
  })
})

describe('X-Forwarded-*', () => {
  it('are set from the connection when the client sent none', async (t) => {
    const { seen } = await through(t, 'GET / HTTP/1.1\r\nHost: example.test:8080\r\n')
    assert.equal(one(seen.rawHeaders, 'x-forwarded-for'), '127.0.0.1')
    assert.equal(one(seen.rawHeaders, 'x-forwarded-proto'), 'http')
    assert.equal(one(seen.rawHeaders, 'x-forwarded-host'), 'example.test:8080')
  })

  const spoofed =
    'GET / HTTP/1.1\r\nHost: example.test\r\n' +
    'X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 10.0.0.1\r\n' +
    'X-Forwarded-Proto: https\r\nX-Forwarded-Host: public.example\r\n'

  it('from a peer not in proxy.trustedProxies are replaced, not appended to', async (t) => {
    const { seen } = await through(t, spoofed, { proxy: { trustedProxies: ['10.0.0.0/8'] } })
    assert.equal(one(seen.rawHeaders, 'x-forwarded-for'), '127.0.0.1')
    assert.equal(one(seen.rawHeaders, 'x-forwarded-proto'), 'http')
    assert.equal(one(seen.rawHeaders, 'x-forwarded-host'), 'example.test')
  })

  it('from a trusted peer are kept, and the peer appended to X-Forwarded-For', async (t) => {
    const { seen } = await through(t, spoofed, { proxy: { trustedProxies: ['127.0.0.1'] } })
    assert.equal(one(seen.rawHeaders, 'x-forwarded-for'), '6.6.6.6, 10.0.0.1, 127.0.0.1')
    assert.equal(one(seen.rawHeaders, 'x-forwarded-proto'), 'https')
    assert.equal(one(seen.rawHeaders, 'x-forwarded-host'), 'public.example')
  })

  it('are passed through untouched when proxy.forwardedHeaders is false', async (t) => {
    const { seen } = await through(t, spoofed, { proxy: { forwardedHeaders: false } })
    assert.deepEqual(values(seen.rawHeaders, 'x-forwarded-for'), ['6.6.6.6', '10.0.0.1'])
    assert.equal(one(seen.rawHeaders, 'x-forwarded-proto'), 'https')
  })
})

describe('Via', () => {
  it('is added upstream (appended to the client’s) and on responses', async (t) => {
    const { seen, res } = await through(t, 'GET / HTTP/1.1\r\nHost: example.test\r\nVia: 1.1 edge\r\n')
    assert.equal(one(seen.rawHeaders, 'via'), '1.1 edge, 1.1 portcullis')
    assert.equal(res.headers.via, '1.1 portcullis')
  })

  it('is appended to the origin’s Via on responses', async (t) => {
    const origin = await startRawOrigin(
      (conn) => {
        if (conn.data.includes('\r\n\r\n'))
          conn.socket.write('HTTP/1.1 200 OK\r\nVia: 1.0 cache\r\nContent-Length: 2\r\n\r\nok')
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n')
    assert.equal((await c.response()).headers.via, '1.0 cache, 1.1 portcullis')
  })

  it('names the client’s protocol version upstream', async (t) => {
    const { seen } = await through(t, 'GET / HTTP/1.0\r\nHost: example.test\r\n')
    assert.equal(one(seen.rawHeaders, 'via'), '1.0 portcullis')
  })

  it('is not added when proxy.via is false', async (t) => {
    const { seen, res } = await through(t, 'GET / HTTP/1.1\r\nHost: example.test\r\n', {
      proxy: { via: false },
    })
    assert.deepEqual(values(seen.rawHeaders, 'via'), [])
    assert.equal(res.headers.via, undefined)
  })
})

describe('Host', () => {
  it('is preserved by default', async (t) => {
    const { seen } = await through(t, 'GET / HTTP/1.1\r\nHost: Example.Test:8443\r\n')
    assert.equal(one(seen.rawHeaders, 'host'), 'Example.Test:8443')
  })

  it('is the target’s with proxy.preserveHost false', async (t) => {
    const { seen, originUrl } = await through(t, 'GET / HTTP/1.1\r\nHost: example.test\r\n', {
      proxy: { preserveHost: false },
    })
    assert.equal(one(seen.rawHeaders, 'host'), new URL(originUrl).host)
    assert.equal(one(seen.rawHeaders, 'x-forwarded-host'), 'example.test')
  })

  it('is the target’s for a route with preserveHost: false, and the client’s for other routes', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const config: GatewayConfigInput = {
      upstreams: { origin: { targets: [{ url: origin.url }] } },
      routes: [
        { match: { path: '/rewrite' }, upstream: 'origin', preserveHost: false },
        { upstream: 'origin' },
      ],
    }
    const gw = await startGateway(config, { t })
    const c = await RawClient.connect(gw.port, t)
    for (const path of ['/rewrite/x', '/keep']) {
      c.write(`GET ${path} HTTP/1.1\r\nHost: example.test\r\n\r\n`)
      assert.equal((await c.response()).status, 200)
    }
    assert.equal(one(origin.requests[0]!.rawHeaders, 'host'), `127.0.0.1:${origin.port}`)
    assert.equal(one(origin.requests[1]!.rawHeaders, 'host'), 'example.test')
  })

  it('comes from the authority of an absolute-form target, sent on as origin-form', async (t) => {
    const { seen } = await through(
      t,
      'GET http://api.example.test:8080/p/q?x=1 HTTP/1.1\r\nHost: ignored.test\r\n',
    )
    assert.equal(seen.url, '/p/q?x=1')
    assert.equal(one(seen.rawHeaders, 'host'), 'api.example.test:8080')
  })
})

describe('target base path', () => {
  for (const base of ['/base', '/base/']) {
    it(`prefixes forwarded paths with the target URL’s path (${base})`, async (t) => {
      const origin = await startOrigin(undefined, { t })
      const gw = await startGateway(proxyConfig(`${origin.url}${base}`), { t })
      const c = await RawClient.connect(gw.port, t)
      for (const path of ['/x/y?q=1', '/']) {
        c.write(`GET ${path} HTTP/1.1\r\nHost: example.test\r\n\r\n`)
        assert.equal((await c.response()).status, 200)
      }
      assert.deepEqual(
        origin.requests.map((r) => r.url),
        ['/base/x/y?q=1', '/base/'],
      )
    })
  }
})

describe('request id', () => {
  it('is generated as a UUID when absent', async (t) => {
    const { seen, res } = await through(t, 'GET / HTTP/1.1\r\nHost: example.test\r\n')
    assert.match(one(seen.rawHeaders, 'x-request-id'), UUID_RE)
    assert.equal(res.headers['x-request-id'], undefined, 'not echoed unless proxy.echoRequestId')
  })

  it('is kept when the client sent a sane one', async (t) => {
    const { seen } = await through(t, 'GET / HTTP/1.1\r\nHost: example.test\r\nX-Request-Id: req-42.a:b\r\n')
    assert.equal(one(seen.rawHeaders, 'x-request-id'), 'req-42.a:b')
  })

  for (const [what, bad] of [
    ['spaces', 'two words'],
    ['over 200 characters', 'a'.repeat(201)],
    ['a quote', 'a"b'],
  ] as const) {
    it(`is replaced when the client’s has ${what}`, async (t) => {
      const { seen } = await through(t, `GET / HTTP/1.1\r\nHost: example.test\r\nX-Request-Id: ${bad}\r\n`)
      assert.match(one(seen.rawHeaders, 'x-request-id'), UUID_RE)
    })
  }

  it('is returned to the client with proxy.echoRequestId', async (t) => {
    const generated = await through(t, 'GET / HTTP/1.1\r\nHost: example.test\r\n', {
      proxy: { echoRequestId: true },
    })
    const id = one(generated.seen.rawHeaders, 'x-request-id')
    assert.equal(one(generated.res.rawHeaders, 'x-request-id'), id)
    const given = await through(t, 'GET / HTTP/1.1\r\nHost: example.test\r\nX-Request-Id: abc123\r\n', {
      proxy: { echoRequestId: true },
    })
    assert.equal(one(given.res.rawHeaders, 'x-request-id'), 'abc123')
  })

  it('uses the configured proxy.requestIdHeader', async (t) => {
    const { seen, res } = await through(
      t,
      'GET / HTTP/1.1\r\nHost: example.test\r\nX-Correlation-Id: corr-1\r\n',
      {
        proxy: { requestIdHeader: 'X-Correlation-Id', echoRequestId: true },
      },
    )
    assert.equal(one(seen.rawHeaders, 'x-correlation-id'), 'corr-1')
    assert.deepEqual(values(seen.rawHeaders, 'x-request-id'), [])
    assert.equal(res.headers['x-correlation-id'], 'corr-1')
  })
})

describe('W3C trace context', () => {
  const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

  it('passes a valid traceparent and its tracestate through unchanged', async (t) => {
    const { seen } = await through(
      t,
      `GET / HTTP/1.1\r\nHost: example.test\r\ntraceparent: ${valid}\r\ntracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7\r\n`,
    )
    assert.equal(one(seen.rawHeaders, 'traceparent'), valid)
    assert.equal(one(seen.rawHeaders, 'tracestate'), 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7')
  })

  for (const [what, bad] of [
    ['malformed', '00-xyz-00f067aa0ba902b7-01'],
    ['an all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['an all-zero parent id', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['upper-case hex', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01'],
  ] as const) {
    it(`drops a traceparent with ${what}, and tracestate with it`, async (t) => {
      const { seen } = await through(
        t,
        `GET / HTTP/1.1\r\nHost: example.test\r\ntraceparent: ${bad}\r\ntracestate: congo=t61rcWkgMzE\r\n`,
      )
      assert.deepEqual(values(seen.rawHeaders, 'traceparent'), [])
      assert.deepEqual(values(seen.rawHeaders, 'tracestate'), [])
    })
  }
})

describe('raw field case and order', () => {
  it('reach the origin as the client wrote them', async (t) => {
    const origin = await startRawOrigin(
      (conn) => {
        if (conn.data.includes('\r\n\r\n')) conn.socket.write('HTTP/1.1 204 No Content\r\n\r\n')
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    const fields = [
      ['x-lower', 'a'],
      ['X-UPPER', 'b'],
      ['X-Dup', 'first'],
      ['Accept', '*/*'],
      ['x-dup', 'second'],
      ['X-MiXeD-CaSe', 'c  d'],
      ['Cookie', 'a=1'],
      ['Cookie', 'b=2'],
    ]
    c.write(
      `GET / HTTP/1.1\r\nHost: example.test\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`,
    )
    assert.equal((await c.response()).status, 204)
    const lines = origin.received().toString('latin1').split('\r\n').slice(1)
    const kept = lines.filter((l) => fields.some(([n]) => l.startsWith(`${n}:`)))
    assert.deepEqual(
      kept,
      fields.map(([n, v]) => `${n}: ${v}`),
    )
  })

  it('reach the client as the origin wrote them', async (t) => {
    const origin = await startRawOrigin(
      (conn) => {
        if (!conn.data.includes('\r\n\r\n')) return
        conn.socket.write(
          'HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nX-Custom-CASE: x\r\nSet-Cookie: b=2\r\ncontent-length: 2\r\n\r\nok',
        )
      },
      { t },
    )
    const gw = await startGateway(proxyConfig(origin.url), { t })
    const c = await RawClient.connect(gw.port, t)
    c.write('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n')
    const res = await c.response()
    assert.deepEqual(res.rawHeaders.slice(0, 8), [
      'set-cookie',
      'a=1',
      'X-Custom-CASE',
      'x',
      'Set-Cookie',
      'b=2',
      'content-length',
      '2',
    ])
  })
})
