/**
 * Routing over real sockets: every matcher (host exact / wildcard / any,
 * path prefix / exact / pattern / regex, methods, headers, query, client
 * CIDR), the documented precedence, and the actions (proxy, respond,
 * redirect). Proxied routes tell the echo origin which route matched through
 * a request header set from `{route.name}`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { GatewayConfigInput } from '../../src/config/schema.ts'
import { type GatewayHandle, type OriginHandle, startGateway, startOrigin } from '../helpers/gateway.ts'
import { type ClientResponse, RawClient } from '../helpers/raw-client.ts'

/** What the echo origin saw. */
interface Echo {
  method: string
  url: string
  headers: Record<string, string>
}

/** startEcho starts an origin answering JSON with the method, target and headers it received. */
function startEcho(): Promise<OriginHandle> {
  return startOrigin((req, res) => {
    req.resume()
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers })
      res.writeHead(200, { 'content-type': 'application/json', server: 'echo', 'x-origin': 'yes' })
      res.end(body)
    })
  })
}

/** proxied makes a route to the echo origin that reports its name and parameters upstream. */
function proxied(name: string, match: Record<string, unknown>, params = ''): Record<string, unknown> {
  const set: Record<string, string> = { 'x-route': '{route.name}' }
  if (params !== '') set['x-params'] = params
  return { name, match, upstream: 'origin', headers: { request: { set } } }
}

/** send makes one request on a new connection; `head` lines after the request line, without CRLFs. */
async function send(
  gw: GatewayHandle,
  method: string,
  target: string,
  head: string[] = [],
): Promise<ClientResponse> {
  const c = await RawClient.connect(gw.port)
  try {
    const lines = head.some((h) => /^host:/i.test(h)) ? head : ['Host: gw.test', ...head]
    const body = method === 'POST' || method === 'PUT' ? 'Content-Length: 0\r\n' : ''
    c.write(`${method} ${target} HTTP/1.1\r\n${lines.map((l) => `${l}\r\n`).join('')}${body}\r\n`)
    return await c.response({ head: method === 'HEAD' })
  } finally {
    c.destroy()
  }
}

function echoOf(res: ClientResponse): Echo {
  assert.equal(res.status, 200, res.body.toString())
  return JSON.parse(res.body.toString()) as Echo
}

/** routeOf returns the name of the route that proxied the request, or the status when none did. */
async function routeOf(
  gw: GatewayHandle,
  target: string,
  head: string[] = [],
  method = 'GET',
): Promise<string> {
  const res = await send(gw, method, target, head)
  if (res.status !== 200) return String(res.status)
  return echoOf(res).headers['x-route'] ?? 'no route header'
}

describe('routing: matchers', () => {
  let origin: OriginHandle
  let gw: GatewayHandle
  before(async () => {
    origin = await startEcho()
    const config: GatewayConfigInput = {
      upstreams: { origin: { targets: [{ url: origin.url }] } },
      routes: [
        proxied('host-exact', { host: 'www.example.com' }),
        proxied('host-wild', { host: '*.example.com' }),
        proxied('host-deep', { host: '*.api.example.com' }),
        proxied('host-list', { host: ['a.test', 'B.test'] }),
        proxied('prefix', { path: '/docs' }),
        proxied('exact', { exact: '/status' }),
        proxied('pattern', { pattern: '/users/:id/posts/:post' }, '{params.id},{params.post}'),
        proxied('wildcard', { pattern: '/files/*path' }, '{params.path}'),
        proxied('regex', { regex: '^/v(?<version>[0-9]+)/' }, '{params.version}'),
        proxied('methods', { path: '/write', methods: ['POST', 'put'] }),
        proxied('header-equals', { path: '/h', headers: { 'X-Env': 'staging' } }),
        proxied('header-present', { path: '/h', headers: { authorization: { present: true } } }),
        proxied('header-regex', { path: '/h', headers: { 'user-agent': { regex: '^curl/' } } }),
        proxied('header-absent', { path: '/nocookie', headers: { cookie: { present: false } } }),
        proxied('query-equals', { path: '/q', query: { mode: 'fast' } }),
        proxied('query-present', { path: '/q', query: { token: { present: true } } }),
        proxied('query-regex', { path: '/q', query: { lang: { regex: '^(en|fr)$' } } }),
        proxied('clients-loopback', { path: '/internal', clients: ['127.0.0.0/8', '::1'] }),
        proxied('clients-private', { path: '/private', clients: '10.0.0.0/8' }),
      ],
    }
    gw = await startGateway(config)
  })
  after(async () => {
    await gw.close()
    await origin.close()
  })

  it('host: exact, case- and port-insensitive', async () => {
    assert.equal(await routeOf(gw, '/', ['Host: www.example.com']), 'host-exact')
    assert.equal(await routeOf(gw, '/', ['Host: WWW.Example.COM:8080']), 'host-exact')
    assert.equal(await routeOf(gw, '/', ['Host: b.test']), 'host-list')
  })

  it('host: *.example.com wildcards, the longest suffix first, never the bare domain', async () => {
    assert.equal(await routeOf(gw, '/', ['Host: shop.example.com']), 'host-wild')
    assert.equal(await routeOf(gw, '/', ['Host: a.b.example.com:443']), 'host-wild')
    assert.equal(await routeOf(gw, '/', ['Host: v1.api.example.com']), 'host-deep')
    assert.equal(await routeOf(gw, '/', ['Host: example.com']), '404')
    assert.equal(await routeOf(gw, '/', ['Host: evilexample.com']), '404')
  })

  it('host: an absolute-form target names the host', async () => {
    assert.equal(await routeOf(gw, 'http://shop.example.com/x', ['Host: other.test']), 'host-wild')
  })

  it('path: a prefix on segment boundaries', async () => {
    assert.equal(await routeOf(gw, '/docs'), 'prefix')
    assert.equal(await routeOf(gw, '/docs/a/b?x=1'), 'prefix')
    assert.equal(await routeOf(gw, '/docsx'), '404')
  })

  it('path: exact, the query aside', async () => {
    assert.equal(await routeOf(gw, '/status'), 'exact')
    assert.equal(await routeOf(gw, '/status?verbose=1'), 'exact')
    assert.equal(await routeOf(gw, '/status/'), '404')
  })

  it('path: a pattern captures parameters the route can use', async () => {
    const echo = echoOf(await send(gw, 'GET', '/users/42/posts/7?x=1'))
    assert.equal(echo.headers['x-route'], 'pattern')
    assert.equal(echo.headers['x-params'], '42,7')
    assert.equal(echo.url, '/users/42/posts/7?x=1')
    assert.equal(await routeOf(gw, '/users/42/posts'), '404')
    assert.equal(await routeOf(gw, '/users/42/posts/7/8'), '404')
  })

  it('path: a trailing wildcard captures the rest', async () => {
    const echo = echoOf(await send(gw, 'GET', '/files/a/b/c.txt'))
    assert.equal(echo.headers['x-route'], 'wildcard')
    assert.equal(echo.headers['x-params'], 'a/b/c.txt')
  })

  it('path: a regex with a named group', async () => {
    const echo = echoOf(await send(gw, 'GET', '/v12/things'))
    assert.equal(echo.headers['x-route'], 'regex')
    assert.equal(echo.headers['x-params'], '12')
    assert.equal(await routeOf(gw, '/vx/things'), '404')
  })

  it('methods', async () => {
    assert.equal(await routeOf(gw, '/write', [], 'POST'), 'methods')
    assert.equal(await routeOf(gw, '/write', [], 'PUT'), 'methods')
    assert.equal(await routeOf(gw, '/write', [], 'GET'), '404')
  })

  it('headers: equals, present, regex, absent — any name case', async () => {
    assert.equal(await routeOf(gw, '/h', ['x-env: staging']), 'header-equals')
    assert.equal(await routeOf(gw, '/h', ['X-ENV: production', 'Authorization: Bearer t']), 'header-present')
    assert.equal(await routeOf(gw, '/h', ['User-Agent: curl/8.5.0']), 'header-regex')
    assert.equal(await routeOf(gw, '/h', ['User-Agent: Mozilla/5.0']), '404')
    assert.equal(await routeOf(gw, '/nocookie'), 'header-absent')
    assert.equal(await routeOf(gw, '/nocookie', ['Cookie: a=1']), '404')
  })

  it('query: equals (decoded), present, regex', async () => {
    assert.equal(await routeOf(gw, '/q?mode=fast'), 'query-equals')
    assert.equal(await routeOf(gw, '/q?a=1&mode=%66ast'), 'query-equals')
    assert.equal(await routeOf(gw, '/q?token='), 'query-present')
    assert.equal(await routeOf(gw, '/q?lang=fr'), 'query-regex')
    assert.equal(await routeOf(gw, '/q?lang=de'), '404')
    assert.equal(await routeOf(gw, '/q'), '404')
  })

  it('clients: the peer address against CIDRs', async () => {
    assert.equal(await routeOf(gw, '/internal'), 'clients-loopback')
    assert.equal(await routeOf(gw, '/private'), '404')
    // X-Forwarded-For is not the client: only the connecting peer counts.
    assert.equal(await routeOf(gw, '/private', ['X-Forwarded-For: 10.1.1.1']), '404')
  })

  it("dot segments are resolved before matching, so they cannot skip a route's conditions", async () => {
    // /docs/../private is /private to the origin: it must meet /private's client condition.
    assert.equal(await routeOf(gw, '/docs/../private'), '404')
    assert.equal(await routeOf(gw, '/docs/%2e%2e/private'), '404')
    const echo = echoOf(await send(gw, 'GET', '/users/1/../2/posts/./3?q=/../x'))
    assert.equal(echo.headers['x-route'], 'pattern')
    assert.equal(echo.url, '/users/2/posts/3?q=/../x')
  })

  it('answers 404 NO_ROUTE when nothing matches', async () => {
    const res = await send(gw, 'GET', '/nothing-here')
    assert.equal(res.status, 404)
    assert.match(res.body.toString(), /NO_ROUTE/)
  })
})

describe('routing: precedence', () => {
  let origin: OriginHandle
  let gw: GatewayHandle
  before(async () => {
    origin = await startEcho()
    gw = await startGateway({
      upstreams: { origin: { targets: [{ url: origin.url }] } },
      routes: [
        proxied('any-root', {}),
        proxied('any-api', { path: '/api' }),
        proxied('any-api-v1', { path: '/api/v1' }),
        proxied('any-api-dup', { path: '/api' }),
        proxied('any-user', { pattern: '/api/users/:id' }),
        proxied('wild-root', { host: '*.example.com' }),
        proxied('wild-admin', { host: '*.example.com', path: '/admin' }),
        proxied('exact-host-admin', { host: 'www.example.com', path: '/admin' }),
      ],
    })
  })
  after(async () => {
    await gw.close()
    await origin.close()
  })

  it('the most specific host first: exact, then wildcard, then any', async () => {
    assert.equal(await routeOf(gw, '/admin/x', ['Host: www.example.com']), 'exact-host-admin')
    // The exact host's routes do not match /public: the wildcard's do.
    assert.equal(await routeOf(gw, '/public', ['Host: www.example.com']), 'wild-root')
    assert.equal(await routeOf(gw, '/admin', ['Host: shop.example.com']), 'wild-admin')
    assert.equal(await routeOf(gw, '/admin', ['Host: other.test']), 'any-root')
  })

  it('then the longest literal path, then the order of appearance', async () => {
    assert.equal(await routeOf(gw, '/api/v1/x'), 'any-api-v1')
    assert.equal(await routeOf(gw, '/api/users/9'), 'any-user')
    assert.equal(await routeOf(gw, '/api/other'), 'any-api')
    assert.equal(await routeOf(gw, '/apix'), 'any-root')
  })
})

describe('routing: actions', () => {
  let origin: OriginHandle
  let gw: GatewayHandle
  before(async () => {
    origin = await startEcho()
    gw = await startGateway({
      upstreams: { origin: { targets: [{ url: origin.url }] } },
      routes: [
        { name: 'proxy', match: { path: '/proxy' }, upstream: 'origin' },
        {
          name: 'fixed',
          match: { exact: '/fixed' },
          respond: {
            status: 418,
            body: 'short and stout\n',
            headers: { 'content-type': 'text/plain', 'x-tea': 'pot' },
          },
        },
        { name: 'found', match: { path: '/moved-temp' }, redirect: { to: '/elsewhere' } },
        {
          name: 'permanent-host',
          match: { host: 'old.example.com' },
          redirect: { status: 301, to: 'https://new.example.com{request.path}' },
        },
        {
          name: 'rewritten',
          match: { pattern: '/old/:id' },
          redirect: { status: 308, to: '/new/items/{params.id}', keepQuery: false },
        },
        {
          name: 'temporary',
          match: { path: '/tmp' },
          redirect: { status: 307, to: 'http://{request.host}/t2{request.uri}' },
        },
        { name: 'go', match: { pattern: '/go/*rest' }, redirect: { to: '/{params.rest}' } },
      ],
    })
  })
  after(async () => {
    await gw.close()
    await origin.close()
  })

  it('proxy: forwards to the upstream', async () => {
    const echo = echoOf(await send(gw, 'GET', '/proxy/a?b=1'))
    assert.equal(echo.url, '/proxy/a?b=1')
    assert.equal(echo.method, 'GET')
  })

  it('respond: fixed status, body and headers, no upstream', async () => {
    const before = origin.requests.length
    const res = await send(gw, 'GET', '/fixed')
    assert.equal(res.status, 418)
    assert.equal(res.body.toString(), 'short and stout\n')
    assert.equal(res.headers['x-tea'], 'pot')
    assert.equal(origin.requests.length, before)
  })

  it('redirect: 302 by default, keeping the query', async () => {
    const res = await send(gw, 'GET', '/moved-temp/x?a=1&b=2')
    assert.equal(res.status, 302)
    assert.equal(res.headers.location, '/elsewhere?a=1&b=2')
  })

  it('redirect: 301 to another host, path and query kept', async () => {
    const res = await send(gw, 'GET', '/some/page?q=1', ['Host: old.example.com'])
    assert.equal(res.status, 301)
    assert.equal(res.headers.location, 'https://new.example.com/some/page?q=1')
  })

  it('redirect: 308 to a path rewritten from parameters, query dropped', async () => {
    const res = await send(gw, 'POST', '/old/77?x=1')
    assert.equal(res.status, 308)
    assert.equal(res.headers.location, '/new/items/77')
  })

  it('redirect: 307 with the whole request URI, never appending the query twice', async () => {
    const res = await send(gw, 'GET', '/tmp/a?x=1', ['Host: gw.test:8080'])
    assert.equal(res.status, 307)
    assert.equal(res.headers.location, 'http://gw.test:8080/t2/tmp/a?x=1')
  })

  it('redirect: a crafted path cannot send the client to another site', async () => {
    const res = await send(gw, 'GET', '/go//evil.example/x')
    assert.equal(res.status, 302)
    assert.equal(res.headers.location, '/evil.example/x')
  })

  it('redirect: HEAD gets the head only, and the connection stays usable', async () => {
    const c = await RawClient.connect(gw.port)
    try {
      c.write('HEAD /moved-temp HTTP/1.1\r\nHost: gw.test\r\n\r\n')
      const head = await c.response({ head: true })
      assert.equal(head.status, 302)
      assert.equal(head.body.length, 0)
      c.write('GET /proxy HTTP/1.1\r\nHost: gw.test\r\n\r\n')
      assert.equal((await c.response()).status, 200)
    } finally {
      c.destroy()
    }
  })
})
