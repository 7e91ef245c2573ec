import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { configSchema } from '../config/schema.ts'
import { NO_PARAMS, Session } from '../core/session.ts'
import { RequestHead } from '../http1/request-head.ts'
import { normalizeHost, pathHasPrefix, Router } from './router.ts'

function router(routes: unknown[]): Router {
  const config = configSchema.parse({
    upstreams: { a: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: routes.map((r) => ({ upstream: 'a', ...(r as object) })),
  })
  return new Router(config.routes)
}

/** req builds the Session of a request; `headers` are extra `[name, value, …]`. */
function req(host: string, target: string, method = 'GET', headers: string[] = [], client = '127.0.0.1') {
  const head = new RequestHead()
  head.method = method
  head.target = target
  head.host = host
  head.rawHeaders = ['Host', host, ...headers]
  return new Session(head, client, 40000, false, 0)
}

function name(
  r: Router,
  host: string,
  target: string,
  method = 'GET',
  headers: string[] = [],
  client?: string,
) {
  return r.match(req(host, target, method, headers, client))?.name
}

describe('Router: hosts, prefixes and methods (backward compatible)', () => {
  it('matches path prefixes on segment boundaries only', () => {
    assert.equal(pathHasPrefix('/v1', '/v1'), true)
    assert.equal(pathHasPrefix('/v1/x', '/v1'), true)
    assert.equal(pathHasPrefix('/v10', '/v1'), false)
    assert.equal(pathHasPrefix('/v1/', '/v1/'), true)
    assert.equal(pathHasPrefix('/v1/x', '/v1/'), true)
    assert.equal(pathHasPrefix('/v', '/v1'), false)
    const r = router([
      { name: 'v1', match: { path: '/v1' } },
      { name: 'slash', match: { path: '/d/' } },
    ])
    assert.equal(name(r, 'h', '/v1'), 'v1')
    assert.equal(name(r, 'h', '/v1/x?q=1'), 'v1')
    assert.equal(name(r, 'h', '/v1?q=/x'), 'v1')
    assert.equal(name(r, 'h', '/v10'), undefined)
    assert.equal(name(r, 'h', '/d/x'), 'slash')
    assert.equal(name(r, 'h', '/d'), undefined)
  })

  it('prefers the host-specific route, then the longest path, then the first', () => {
    const r = router([
      { name: 'any', match: { path: '/' } },
      { name: 'api', match: { path: '/api' } },
      { name: 'api-v1', match: { path: '/api/v1' } },
      { name: 'host', match: { host: 'Example.COM', path: '/' } },
      { name: 'api-dup', match: { path: '/api' } },
    ])
    assert.equal(name(r, 'other', '/api/v1/x'), 'api-v1')
    assert.equal(name(r, 'other', '/api/x'), 'api')
    assert.equal(name(r, 'other', '/apix'), 'any')
    assert.equal(name(r, 'example.com:8080', '/api/v1'), 'host')
  })

  it('falls back to host-less routes when the host routes do not match the path', () => {
    const r = router([
      { name: 'host-admin', match: { host: 'a.test', path: '/admin' } },
      { name: 'generic', match: { path: '/' } },
    ])
    assert.equal(name(r, 'a.test', '/admin/x'), 'host-admin')
    assert.equal(name(r, 'a.test', '/public'), 'generic')
  })

  it('filters by method and returns undefined when nothing matches', () => {
    const r = router([{ name: 'post', match: { path: '/p', methods: ['post'] } }])
    assert.equal(name(r, 'h', '/p', 'POST'), 'post')
    assert.equal(name(r, 'h', '/p', 'GET'), undefined)
    assert.equal(name(r, 'h', '/q', 'POST'), undefined)
  })

  it('normalizes hosts: case, port and trailing dot; keeps IPv6 brackets', () => {
    assert.equal(normalizeHost('Example.com:80'), 'example.com')
    assert.equal(normalizeHost('example.com.'), 'example.com')
    assert.equal(normalizeHost('[::1]:8080'), '[::1]')
    assert.equal(normalizeHost('[::1]'), '[::1]')
  })
})

describe('Router: wildcard hosts', () => {
  const r = router([
    { name: 'any', match: {} },
    { name: 'wild', match: { host: '*.example.com' } },
    { name: 'deeper', match: { host: '*.api.example.com' } },
    { name: 'exact', match: { host: 'www.example.com' } },
    { name: 'wild-admin', match: { host: '*.Example.com:9', path: '/admin' } },
  ])

  it('prefers an exact host, then the longest suffix, then no host', () => {
    assert.equal(name(r, 'www.example.com', '/'), 'exact')
    assert.equal(name(r, 'shop.example.com:8443', '/'), 'wild')
    assert.equal(name(r, 'a.b.example.com', '/'), 'wild')
    assert.equal(name(r, 'v1.api.example.com', '/'), 'deeper')
    assert.equal(name(r, 'SHOP.EXAMPLE.COM.', '/'), 'wild')
  })

  it('does not match the bare domain or a look-alike', () => {
    assert.equal(name(r, 'example.com', '/'), 'any')
    assert.equal(name(r, 'badexample.com', '/'), 'any')
    assert.equal(name(r, 'example.com.evil', '/'), 'any')
  })

  it('within a wildcard, the longest path wins', () => {
    assert.equal(name(r, 'shop.example.com', '/admin/x'), 'wild-admin')
  })
})

describe('Router: exact paths, patterns and regexes', () => {
  it('matches an exact path, ignoring the query', () => {
    const r = router([
      { name: 'exact', match: { exact: '/health' } },
      { name: 'root', match: { exact: '/' } },
    ])
    assert.equal(name(r, 'h', '/health'), 'exact')
    assert.equal(name(r, 'h', '/health?full=1'), 'exact')
    assert.equal(name(r, 'h', '/health/'), undefined)
    assert.equal(name(r, 'h', '/healthz'), undefined)
    assert.equal(name(r, 'h', '/'), 'root')
    assert.equal(name(r, 'h', '/?x'), 'root')
  })

  it('captures pattern parameters and a trailing wildcard', () => {
    const r = router([
      { name: 'user', match: { pattern: '/users/:id' } },
      { name: 'post', match: { pattern: '/users/:id/posts/:post' } },
      { name: 'files', match: { pattern: '/files/*path' } },
      { name: 'tenant', match: { pattern: '/:tenant/home' } },
    ])
    const s = req('h', '/users/42/posts/7?x=1')
    assert.equal(r.match(s)?.name, 'post')
    assert.deepEqual({ ...s.params }, { id: '42', post: '7' })
    const f = req('h', '/files/a/b.txt')
    assert.equal(r.match(f)?.name, 'files')
    assert.deepEqual({ ...f.params }, { path: 'a/b.txt' })
    const root = req('h', '/files')
    assert.equal(r.match(root)?.name, 'files')
    assert.equal(root.params.path, '')
    const t = req('h', '/acme/home')
    assert.equal(r.match(t)?.name, 'tenant')
    assert.equal(t.params.tenant, 'acme')
    assert.equal(name(r, 'h', '/users/'), undefined)
    assert.equal(name(r, 'h', '/users/1/x'), undefined)
    assert.equal(name(r, 'h', '/users//posts/1'), undefined)
  })

  it('captures numbered and named regex groups; tests the path, not the query', () => {
    const r = router([{ name: 're', match: { regex: '^/v([0-9]+)/(?<rest>.*)$' } }])
    const s = req('h', '/v2/items/9?v=3')
    assert.equal(r.match(s)?.name, 're')
    assert.deepEqual({ ...s.params }, { 1: '2', 2: 'items/9', rest: 'items/9' })
    assert.equal(name(r, 'h', '/x?/v2/a'), undefined)
  })

  it('routes without parameters share the frozen empty params', () => {
    const r = router([{ name: 'p', match: { path: '/p' } }])
    const s = req('h', '/p')
    r.match(s)
    assert.equal(s.params, NO_PARAMS)
  })

  it('orders patterns, regexes and prefixes by literal length, then order', () => {
    const r = router([
      { name: 'users-prefix', match: { path: '/users' } },
      { name: 'user', match: { pattern: '/users/:id' } },
      { name: 'me', match: { exact: '/users/me' } },
      { name: 'any-version', match: { regex: '^/v[0-9]+/' } },
      { name: 'v1', match: { path: '/v1' } },
      { name: 'tenant', match: { pattern: '/:t/users' } },
    ])
    assert.equal(name(r, 'h', '/users/me'), 'me')
    assert.equal(name(r, 'h', '/users/7'), 'user')
    assert.equal(name(r, 'h', '/users/7/x'), 'users-prefix')
    assert.equal(name(r, 'h', '/users'), 'users-prefix')
    assert.equal(name(r, 'h', '/v1/x'), 'v1')
    assert.equal(name(r, 'h', '/v2/x'), 'any-version')
    // A dynamic first segment is still a candidate next to an indexed one.
    assert.equal(name(r, 'h', '/acme/users'), 'tenant')
  })

  it('merges indexed and dynamic candidates in precedence order', () => {
    const r = router([
      { name: 'catch-all', match: {} },
      { name: 'dynamic-long', match: { regex: '^/api/v1/long' } },
      { name: 'api', match: { path: '/api' } },
    ])
    assert.equal(name(r, 'h', '/api/v1/longer'), 'dynamic-long')
    assert.equal(name(r, 'h', '/api/v2'), 'api')
    assert.equal(name(r, 'h', '/other'), 'catch-all')
  })
})

describe('Router: header, query and client conditions', () => {
  const r = router([
    { name: 'canary', match: { headers: { 'X-Canary': 'yes' } } },
    { name: 'authed', match: { path: '/a', headers: { authorization: { present: true } } } },
    { name: 'no-cookie', match: { path: '/c', headers: { cookie: { present: false } } } },
    { name: 'curl', match: { path: '/u', headers: { 'user-agent': { regex: '^curl/' } } } },
    { name: 'debug', match: { path: '/q', query: { debug: 1 } } },
    { name: 'has-token', match: { path: '/t', query: { token: { present: true } } } },
    { name: 'lang', match: { path: '/l', query: { lang: { regex: '^(en|fr)$' } } } },
    { name: 'internal', match: { path: '/internal', clients: ['10.0.0.0/8', '::1'] } },
    // Same literal length as `canary`: order decides, so the catch-all comes last.
    { name: 'fallback', match: {} },
  ])

  it('matches header values, presence, absence and regexes, any case', () => {
    assert.equal(name(r, 'h', '/x', 'GET', ['x-canary', 'yes']), 'canary')
    assert.equal(name(r, 'h', '/x', 'GET', ['X-CANARY', 'no', 'X-Canary', 'yes']), 'canary')
    assert.equal(name(r, 'h', '/x', 'GET', ['x-canary', 'YES']), 'fallback')
    assert.equal(name(r, 'h', '/a', 'GET', ['Authorization', 'Bearer x']), 'authed')
    assert.equal(name(r, 'h', '/a'), 'fallback')
    assert.equal(name(r, 'h', '/c'), 'no-cookie')
    assert.equal(name(r, 'h', '/c', 'GET', ['Cookie', 'a=1']), 'fallback')
    assert.equal(name(r, 'h', '/u', 'GET', ['User-Agent', 'curl/8.5']), 'curl')
    assert.equal(name(r, 'h', '/u', 'GET', ['User-Agent', 'Mozilla/5.0']), 'fallback')
  })

  it('matches decoded query parameters', () => {
    assert.equal(name(r, 'h', '/q?debug=1'), 'debug')
    assert.equal(name(r, 'h', '/q?a=b&debug=%31'), 'debug')
    assert.equal(name(r, 'h', '/q?debug=2'), 'fallback')
    assert.equal(name(r, 'h', '/q'), 'fallback')
    assert.equal(name(r, 'h', '/t?token='), 'has-token')
    assert.equal(name(r, 'h', '/t?tokens=1'), 'fallback')
    assert.equal(name(r, 'h', '/l?lang=fr'), 'lang')
    assert.equal(name(r, 'h', '/l?lang=de'), 'fallback')
  })

  it('matches the client address against CIDRs', () => {
    assert.equal(name(r, 'h', '/internal', 'GET', [], '10.1.2.3'), 'internal')
    assert.equal(name(r, 'h', '/internal', 'GET', [], '::1'), 'internal')
    assert.equal(name(r, 'h', '/internal', 'GET', [], '192.168.0.1'), 'fallback')
  })
})

describe('Router: scale', () => {
  it('finds the right route among 1,000 quickly', () => {
    const routes = Array.from({ length: 1000 }, (_, i) => ({
      name: `r${i}`,
      match: { path: `/svc${i}/api` },
    }))
    const r = router([...routes, { name: 'tail', match: { pattern: '/:x/tail' } }])
    assert.equal(name(r, 'h', '/svc999/api/x'), 'r999')
    assert.equal(name(r, 'h', '/svc0/api'), 'r0')
    assert.equal(name(r, 'h', '/svc5/tail'), 'tail')
    assert.equal(name(r, 'h', '/svc5/other'), undefined)
  })
})
