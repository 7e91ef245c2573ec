import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { configSchema } from '../config/schema.ts'
import { normalizeHost, pathHasPrefix, Router } from './router.ts'

function router(routes: unknown[]): Router {
  const config = configSchema.parse({
    upstreams: { a: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes,
  })
  return new Router(config.routes)
}

describe('Router', () => {
  it('matches path prefixes on segment boundaries only', () => {
    assert.equal(pathHasPrefix('/v1', '/v1'), true)
    assert.equal(pathHasPrefix('/v1/x', '/v1'), true)
    assert.equal(pathHasPrefix('/v10', '/v1'), false)
    assert.equal(pathHasPrefix('/v1/', '/v1/'), true)
    assert.equal(pathHasPrefix('/v1/x', '/v1/'), true)
    assert.equal(pathHasPrefix('/v', '/v1'), false)
  })

  it('prefers the host-specific route, then the longest path, then the first', () => {
    const r = router([
      { name: 'any', match: { path: '/' }, upstream: 'a' },
      { name: 'api', match: { path: '/api' }, upstream: 'a' },
      { name: 'api-v1', match: { path: '/api/v1' }, upstream: 'a' },
      { name: 'host', match: { host: 'Example.COM', path: '/' }, upstream: 'a' },
      { name: 'api-dup', match: { path: '/api' }, upstream: 'a' },
    ])
    assert.equal(r.match('other', '/api/v1/x', 'GET')?.name, 'api-v1')
    assert.equal(r.match('other', '/api/x', 'GET')?.name, 'api')
    assert.equal(r.match('other', '/apix', 'GET')?.name, 'any')
    assert.equal(r.match('example.com:8080', '/api/v1', 'GET')?.name, 'host')
  })

  it('falls back to host-less routes when the host routes do not match the path', () => {
    const r = router([
      { name: 'host-admin', match: { host: 'a.test', path: '/admin' }, upstream: 'a' },
      { name: 'generic', match: { path: '/' }, upstream: 'a' },
    ])
    assert.equal(r.match('a.test', '/admin/x', 'GET')?.name, 'host-admin')
    assert.equal(r.match('a.test', '/public', 'GET')?.name, 'generic')
  })

  it('filters by method and returns undefined when nothing matches', () => {
    const r = router([{ name: 'post', match: { path: '/p', methods: ['post'] }, upstream: 'a' }])
    assert.equal(r.match('h', '/p', 'POST')?.name, 'post')
    assert.equal(r.match('h', '/p', 'GET'), undefined)
    assert.equal(r.match('h', '/q', 'POST'), undefined)
  })

  it('normalizes hosts: case, port and trailing dot; keeps IPv6 brackets', () => {
    assert.equal(normalizeHost('Example.com:80'), 'example.com')
    assert.equal(normalizeHost('example.com.'), 'example.com')
    assert.equal(normalizeHost('[::1]:8080'), '[::1]')
    assert.equal(normalizeHost('[::1]'), '[::1]')
  })
})
