/**
 * Every feature example serves what its comments promise: each file is
 * loaded as `portcullis start` would load it, its listener moved to port 0
 * and its upstream targets to a local echo origin, then asked a request or
 * two that show the feature.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { loadConfig } from '../../src/config/load.ts'
import type { GatewayConfig } from '../../src/config/schema.ts'
import { createGateway } from '../../src/server/gateway.ts'

const examples = join(import.meta.dirname, '..', '..', 'examples')

interface Echo {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
}

/** startEcho answers every request with what it received, as JSON padded past compression's minSize. */
async function startEcho(t: TestContext): Promise<string> {
  const server = http.createServer(function echo(req, res) {
    const body = JSON.stringify({
      method: req.method,
      url: req.url,
      headers: req.headers,
      pad: 'x'.repeat(400),
    })
    res.writeHead(200, { 'content-type': 'application/json', server: 'echo', 'x-powered-by': 'tests' })
    res.end(body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** serveExample starts examples/FILE with its upstreams aimed at `origin`; returns the port and the routes logged. */
async function serveExample(file: string, t: TestContext, origin?: string) {
  const loaded = await loadConfig(join(examples, file), { ...process.env, PORT: '0', DEMO_ORIGIN_PORT: '1' })
  assert.ok(loaded.ok, `${file} loads`)
  const config: GatewayConfig = structuredClone(loaded.config)
  config.listen = [{ address: { host: '127.0.0.1', port: 0 } }]
  if (origin !== undefined) {
    for (const u of Object.values(config.upstreams)) {
      for (const target of u.targets) target.url = origin + new URL(target.url).pathname.replace(/\/$/, '')
    }
  }
  const routes: string[] = []
  const gw = await createGateway(config, { hooks: { onLog: (s) => void routes.push(s.route?.name ?? '') } })
  await gw.listen()
  t.after(() => gw.close({ drainTimeout: 100 }))
  return { port: gw.addresses()[0]!.port, routes }
}

interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      )
    })
    req.on('error', reject)
    req.end()
  })
}

function echoed(r: Reply): Echo {
  assert.equal(r.status, 200, r.body.toString())
  return JSON.parse(r.body.toString()) as Echo
}

describe('feature examples', () => {
  it('routing.yaml: params, regex groups, header and query conditions, wildcard hosts', async (t) => {
    const { port, routes } = await serveExample('routing.yaml', t, await startEcho(t))
    assert.equal(echoed(await get(port, '/api/users/42')).headers['x-user-id'], '42')
    assert.equal(echoed(await get(port, '/v3/things')).headers['x-api-version'], '3')
    await get(port, '/api/x', { 'x-canary': 'true' })
    await get(port, '/api/x?canary')
    await get(port, '/', { host: 'shop.example.com' })
    assert.deepEqual(routes, ['user', 'versioned', 'canary-header', 'canary-query', 'tenant-sites'])
  })

  it('redirects.yaml: patterns, regex, host redirects, query kept or dropped', async (t) => {
    const { port } = await serveExample('redirects.yaml', t)
    const moved = await get(port, '/articles/2024/hello')
    assert.equal(moved.status, 308)
    assert.equal(moved.headers.location, '/blog/2024-hello')
    const domain = await get(port, '/a/b', { host: 'old.example.com' })
    assert.equal(domain.status, 301)
    assert.equal(domain.headers.location, 'https://www.example.com/a/b')
    const sale = await get(port, '/deals?ref=mail')
    assert.equal(sale.status, 302)
    assert.equal(sale.headers.location, '/campaigns/summer?ref=mail')
    const php = await get(port, '/index.php/about?x=1')
    assert.equal(php.headers.location, '/about')
    assert.equal((await get(port, '/')).body.toString(), 'home\n')
  })

  it('rewrites.yaml: prefix strip and replace, regex with captures, Host, header changes both ways', async (t) => {
    const { port } = await serveExample('rewrites.yaml', t, await startEcho(t))
    const api = await get(port, '/api/users?page=2', { cookie: 'secret=1' })
    const seen = echoed(api)
    assert.equal(seen.url, '/users?page=2')
    assert.equal(seen.headers.host, 'api.internal')
    assert.equal(seen.headers['x-gateway-route'], 'api')
    assert.equal(seen.headers['x-client-ip'], '127.0.0.1')
    assert.equal(seen.headers.cookie, undefined)
    assert.equal(api.headers['strict-transport-security'], 'max-age=31536000')
    assert.equal(api.headers.server, undefined)
    assert.equal(echoed(await get(port, '/old/a/b')).url, '/app/v2/a/b')
    assert.equal(echoed(await get(port, '/catalog/books/7')).url, '/items/7?kind=books')
    const tenant = echoed(await get(port, '/t/acme/orders/9'))
    assert.equal(tenant.url, '/orders/9')
    assert.equal(tenant.headers.host, 'acme.tenants.internal')
    assert.equal(tenant.headers['x-tenant'], 'acme')
  })

  it('static.yaml: files by prefix, index file, max-age, precompressed siblings', async (t) => {
    const { port } = await serveExample('static.yaml', t)
    const css = await get(port, '/assets/style.css')
    assert.equal(css.status, 200)
    assert.match(String(css.headers['content-type']), /^text\/css/)
    const index = await get(port, '/')
    assert.equal(index.status, 200)
    assert.match(String(index.headers['content-type']), /^text\/html/)
    assert.equal(index.headers['cache-control'], 'max-age=3600')
    const gz = await get(port, '/assets/style.css', { 'accept-encoding': 'gzip' })
    assert.equal(gz.headers['content-encoding'], 'gzip')
    assert.deepEqual(gunzipSync(gz.body), css.body)
  })

  it('hardening.yaml: paths matched as the origin reads them, underscores and upgrades removed', async (t) => {
    const { port, routes } = await serveExample('hardening.yaml', t, await startEcho(t))
    assert.equal((await get(port, '/%61dmin')).status, 403)
    assert.equal((await get(port, '//admin/x')).status, 403)
    assert.equal((await get(port, '/x/..%2fadmin')).status, 400)
    const seen = echoed(
      await get(port, '/a//b/%7Euser', { x_api_key: 'k', upgrade: 'websocket', connection: 'upgrade' }),
    )
    assert.equal(seen.url, '/a/b/~user')
    assert.equal(seen.headers.x_api_key, undefined)
    assert.equal(seen.headers.upgrade, undefined)
    assert.deepEqual(routes, ['admin', 'admin', '', 'app'])
  })

  it('compression.yaml: compressed by default, not where a route turns it off', async (t) => {
    const { port } = await serveExample('compression.yaml', t, await startEcho(t))
    const on = await get(port, '/x', { 'accept-encoding': 'gzip' })
    assert.equal(on.headers['content-encoding'], 'gzip')
    assert.equal((JSON.parse(gunzipSync(on.body).toString()) as Echo).url, '/x')
    const off = await get(port, '/downloads/file', { 'accept-encoding': 'gzip' })
    assert.equal(off.headers['content-encoding'], undefined)
    assert.equal(echoed(off).url, '/downloads/file')
  })
})
