/**
 * Rewrites and header transforms over real sockets: what the origin
 * receives (path, query, Host, request fields) and what the client gets
 * back (response fields), with placeholders filled from the request.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type GatewayHandle, type OriginHandle, startGateway, startOrigin } from '../helpers/gateway.ts'
import { type ClientResponse, RawClient } from '../helpers/raw-client.ts'

interface Echo {
  url: string
  /** Raw header names and values as received. */
  raw: string[]
}

function startEcho(): Promise<OriginHandle> {
  return startOrigin((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, [
        ['Content-Type', 'application/json'],
        ['Server', 'echo/1'],
        ['X-Powered-By', 'node'],
        ['Cache-Control', 'no-store'],
      ])
      res.end(JSON.stringify({ url: req.url, raw: req.rawHeaders }))
    })
  })
}

async function send(port: number, target: string, head: string[] = []): Promise<ClientResponse> {
  const c = await RawClient.connect(port)
  try {
    const lines = head.some((h) => /^host:/i.test(h)) ? head : ['Host: gw.test', ...head]
    c.write(`GET ${target} HTTP/1.1\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`)
    return await c.response()
  } finally {
    c.destroy()
  }
}

function echoOf(res: ClientResponse): Echo {
  assert.equal(res.status, 200, res.body.toString())
  return JSON.parse(res.body.toString()) as Echo
}

/** values returns every value of field `name` (any case) in a raw list. */
function values(raw: readonly string[], name: string): string[] {
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!)
  return out
}

describe('rewrites', () => {
  let origin: OriginHandle
  let gw: GatewayHandle
  before(async () => {
    origin = await startEcho()
    gw = await startGateway({
      upstreams: {
        origin: { targets: [{ url: origin.url }] },
        based: { targets: [{ url: `${origin.url}/base` }] },
      },
      routes: [
        { match: { path: '/strip' }, upstream: 'origin', rewrite: { stripPrefix: true } },
        { match: { path: '/named' }, upstream: 'origin', rewrite: { stripPrefix: '/named/v1' } },
        {
          match: { path: '/legacy' },
          upstream: 'origin',
          rewrite: { replacePrefix: { from: '/legacy', to: '/v2' } },
        },
        {
          match: { path: '/re' },
          upstream: 'origin',
          rewrite: { regex: { pattern: '^/re/([a-z]+)/([0-9]+)$', replace: '/items/$2?kind=$1' } },
        },
        {
          match: { pattern: '/u/:id/*rest' },
          upstream: 'origin',
          rewrite: { path: '/users/{params.id}/{params.rest}' },
        },
        { match: { path: '/host' }, upstream: 'origin', rewrite: { host: 'internal.example' } },
        {
          match: { pattern: '/t/:tenant' },
          upstream: 'origin',
          rewrite: { host: '{params.tenant}.tenants.local' },
        },
        { match: { path: '/b' }, upstream: 'based', rewrite: { stripPrefix: true } },
      ],
    })
  })
  after(async () => {
    await gw.close()
    await origin.close()
  })

  it('stripPrefix: true removes match.path, keeping the query', async () => {
    assert.equal(echoOf(await send(gw.port, '/strip/users/1?x=1')).url, '/users/1?x=1')
    assert.equal(echoOf(await send(gw.port, '/strip')).url, '/')
    assert.equal(echoOf(await send(gw.port, '/strip?only=query')).url, '/?only=query')
  })

  it('stripPrefix: a named prefix, only on a segment boundary', async () => {
    assert.equal(echoOf(await send(gw.port, '/named/v1/a')).url, '/a')
    assert.equal(echoOf(await send(gw.port, '/named/v10/a')).url, '/named/v10/a')
  })

  it('replacePrefix', async () => {
    assert.equal(echoOf(await send(gw.port, '/legacy/orders/5?y=2')).url, '/v2/orders/5?y=2')
  })

  it('regex with captures', async () => {
    assert.equal(echoOf(await send(gw.port, '/re/book/12')).url, '/items/12?kind=book')
    assert.equal(echoOf(await send(gw.port, '/re/BOOK/12')).url, '/re/BOOK/12')
  })

  it('a path template from pattern parameters', async () => {
    assert.equal(echoOf(await send(gw.port, '/u/7/photos/3?size=s')).url, '/users/7/photos/3?size=s')
  })

  it('host: a fixed Host upstream, exactly one', async () => {
    const echo = echoOf(await send(gw.port, '/host/x'))
    assert.deepEqual(values(echo.raw, 'host'), ['internal.example'])
    assert.equal(echo.url, '/host/x')
    // X-Forwarded-Host still names what the client asked for.
    assert.deepEqual(values(echo.raw, 'x-forwarded-host'), ['gw.test'])
  })

  it('host: from a parameter', async () => {
    assert.deepEqual(values(echoOf(await send(gw.port, '/t/acme')).raw, 'host'), ['acme.tenants.local'])
  })

  it("keeps the target's base path in front of the rewritten path", async () => {
    assert.equal(echoOf(await send(gw.port, '/b/c?d=1')).url, '/base/c?d=1')
  })
})

describe('header transforms', () => {
  let origin: OriginHandle
  let gw: GatewayHandle
  before(async () => {
    process.env.PORTCULLIS_TEST_BUILD = 'build-77'
    origin = await startEcho()
    gw = await startGateway({
      upstreams: { origin: { targets: [{ url: origin.url }] } },
      routes: [
        {
          name: 'orders',
          match: { pattern: '/orders/:id' },
          upstream: 'origin',
          headers: {
            request: {
              remove: ['Cookie', 'X-Debug'],
              set: {
                'X-Client-IP': '{client.ip}',
                'X-Request-Id-Copy': '{request.id}',
                'X-Route': '{route.name}',
                'X-Order': '{params.id}',
                'X-Build': '{env.PORTCULLIS_TEST_BUILD}',
                Accept: 'application/json',
              },
              add: { 'X-Tag': 'gw-{request.method}', Forwarded: 'for="{client.ip}";proto={request.scheme}' },
            },
            response: {
              remove: ['X-Powered-By', 'Server'],
              set: { 'Cache-Control': 'private, max-age=60', 'X-Served-By': '{route.name} {{gw}}' },
              add: { 'X-Order': '{params.id}' },
            },
          },
        },
        { name: 'plain', match: { path: '/plain' }, upstream: 'origin' },
      ],
    })
  })
  after(async () => {
    delete process.env.PORTCULLIS_TEST_BUILD
    await gw.close()
    await origin.close()
  })

  it('request: remove, set and add with placeholders', async () => {
    const res = await send(gw.port, '/orders/31?full=1', [
      'Cookie: session=secret',
      'X-Debug: 1',
      'Accept: text/html',
      'Accept: */*',
      'X-Tag: client',
      'X-Request-Id: client-id-1',
    ])
    const raw = echoOf(res).raw
    assert.deepEqual(values(raw, 'cookie'), [])
    assert.deepEqual(values(raw, 'x-debug'), [])
    assert.deepEqual(values(raw, 'accept'), ['application/json'])
    assert.deepEqual(values(raw, 'x-client-ip'), ['127.0.0.1'])
    assert.deepEqual(values(raw, 'x-request-id-copy'), ['client-id-1'])
    assert.deepEqual(values(raw, 'x-route'), ['orders'])
    assert.deepEqual(values(raw, 'x-order'), ['31'])
    assert.deepEqual(values(raw, 'x-build'), ['build-77'])
    assert.deepEqual(values(raw, 'x-tag'), ['client', 'gw-GET'])
    assert.deepEqual(values(raw, 'forwarded'), ['for="127.0.0.1";proto=http'])
  })

  it('response: remove, set and add', async () => {
    const res = await send(gw.port, '/orders/8')
    assert.equal(res.status, 200)
    assert.equal(res.headers.server, undefined)
    assert.equal(res.headers['x-powered-by'], undefined)
    assert.equal(res.headers['cache-control'], 'private, max-age=60')
    assert.equal(res.headers['x-served-by'], 'orders {gw}')
    assert.equal(res.headers['x-order'], '8')
    assert.equal(res.headers['content-type'], 'application/json')
  })

  it('a route without transforms is left alone', async () => {
    const res = await send(gw.port, '/plain', ['Cookie: a=1'])
    assert.deepEqual(values(echoOf(res).raw, 'cookie'), ['a=1'])
    assert.equal(res.headers.server, 'echo/1')
    assert.equal(res.headers['x-powered-by'], 'node')
  })

  it('a generated request id is what {request.id} gives', async () => {
    const res = await send(gw.port, '/orders/1')
    const raw = echoOf(res).raw
    const id = values(raw, 'x-request-id')
    assert.equal(id.length, 1)
    assert.deepEqual(values(raw, 'x-request-id-copy'), id)
  })
})
