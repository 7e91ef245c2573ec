import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { configSchema } from '../../config/schema.ts'
import { HeaderList } from '../../core/header-list.ts'
import type { UpstreamRequest } from '../../core/hooks.ts'
import { Session } from '../../core/session.ts'
import { RequestHead } from '../../http1/request-head.ts'
import { Router } from '../../routing/router.ts'
import { rewriteModule } from './index.ts'

/**
 * upstreamHead runs a route's rewrite on a request for `target`, as the
 * exchange would present it (`base` is the upstream target's base path).
 */
function upstreamHead(route: object, target: string, base = ''): UpstreamRequest {
  const config = configSchema.parse({
    upstreams: { a: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', upstream: 'a', ...route }],
  })
  const head = new RequestHead()
  head.method = 'GET'
  head.target = target
  head.host = 'front.example'
  const session = new Session(head, '10.0.0.1', 1, false, 0)
  session.route = new Router(config.routes).match(session)
  assert.ok(session.route, 'the route matches')
  const req: UpstreamRequest = {
    method: 'GET',
    path: base + target,
    headers: new HeaderList(['Host', 'front.example', 'Accept', '*/*']),
  }
  const hooks = rewriteModule(config.routes[0]!, config)
  hooks!.onUpstreamRequest!(session, req)
  return req
}

describe('rewrite module', () => {
  it('is absent from routes without rewrite', () => {
    const config = configSchema.parse({ routes: [{ respond: {} }] })
    assert.equal(rewriteModule(config.routes[0]!, config), undefined)
  })

  it('strips match.path on segment boundaries, keeping the query', () => {
    const route = { match: { path: '/api' }, rewrite: { stripPrefix: true } }
    assert.equal(upstreamHead(route, '/api/users?x=1').path, '/users?x=1')
    assert.equal(upstreamHead(route, '/api').path, '/')
    assert.equal(upstreamHead(route, '/api?x').path, '/?x')
  })

  it('strips a named prefix and leaves other paths alone', () => {
    const route = { rewrite: { stripPrefix: '/v1/' } }
    assert.equal(upstreamHead(route, '/v1/a').path, '/a')
    assert.equal(upstreamHead(route, '/v10/a').path, '/v10/a')
  })

  it('replaces a prefix without doubling slashes', () => {
    const route = { rewrite: { replacePrefix: { from: '/old', to: '/new/' } } }
    assert.equal(upstreamHead(route, '/old/x/y?q').path, '/new/x/y?q')
    assert.equal(upstreamHead(route, '/old').path, '/new/')
    assert.equal(upstreamHead(route, '/older').path, '/older')
  })

  it('replaces with regex captures', () => {
    const route = { rewrite: { regex: { pattern: '^/api/v([0-9]+)/(.*)$', replace: '/v$1-api/$2' } } }
    assert.equal(upstreamHead(route, '/api/v2/items?id=3').path, '/v2-api/items?id=3')
    assert.equal(upstreamHead(route, '/other').path, '/other')
  })

  it('joins the request query to a query the rewrite adds', () => {
    const route = { rewrite: { regex: { pattern: '^/c/([a-z]+)$', replace: '/items?kind=$1' } } }
    assert.equal(upstreamHead(route, '/c/books?page=2').path, '/items?kind=books&page=2')
    assert.equal(upstreamHead(route, '/c/books').path, '/items?kind=books')
  })

  it('renders a path template with parameters', () => {
    const route = {
      match: { pattern: '/u/:id/*rest' },
      rewrite: { path: '/users/{params.id}/{params.rest}' },
    }
    assert.equal(upstreamHead(route, '/u/7/a/b?z=1').path, '/users/7/a/b?z=1')
  })

  it('keeps the target base path in front of the rewritten path', () => {
    const route = { match: { path: '/api' }, rewrite: { stripPrefix: true } }
    assert.equal(upstreamHead(route, '/api/x?y', '/base').path, '/base/x?y')
  })

  it('sets Host from a template', () => {
    const route = { match: { pattern: '/:tenant/*' }, rewrite: { host: '{params.tenant}.internal' } }
    const req = upstreamHead(route, '/acme/x')
    assert.equal(req.headers.get('host'), 'acme.internal')
    assert.deepEqual(req.headers.getAll('Host'), ['acme.internal'])
    assert.equal(req.path, '/acme/x')
  })
})
