import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { configSchema, type GatewayConfig } from '../../config/schema.ts'
import type { GatewayResponse } from '../../core/hooks.ts'
import { Session } from '../../core/session.ts'
import { RequestHead } from '../../http1/request-head.ts'
import { Router } from '../../routing/router.ts'
import { redirectModule, withQuery } from './index.ts'
import { redirectTargetProblem, sameSiteGuard } from '../../config/redirect-target.ts'

/** answer routes `target` through a one-route table and returns the redirect the module makes. */
function answer(route: object, target: string, opts: { host?: string; tls?: boolean } = {}): GatewayResponse {
  const config: GatewayConfig = configSchema.parse({ routes: [{ name: 'r', ...route }] })
  const head = new RequestHead()
  head.method = 'GET'
  head.target = target
  head.host = opts.host ?? 'old.example.com:8080'
  const session = new Session(head, '127.0.0.1', 1, opts.tls ?? false, 0)
  session.id = 'req-1'
  const matched = new Router(config.routes).match(session)
  assert.ok(matched, 'the route matches')
  session.route = matched
  const hooks = redirectModule(config.routes[0]!, config)
  const result = hooks!.onRequest!(session)
  assert.ok(result && !(result instanceof Promise) && result.kind === 'respond')
  return result.response
}

function location(res: GatewayResponse): string | undefined {
  return (res.headers as Record<string, string>).Location
}

describe('redirect module', () => {
  it('is absent from routes without redirect', () => {
    const config = configSchema.parse({ routes: [{ match: {}, respond: {} }] })
    assert.equal(redirectModule(config.routes[0]!, config), undefined)
  })

  it('defaults to 302 and keeps the query', () => {
    const res = answer({ redirect: { to: '/new' } }, '/old?a=1&b=2')
    assert.equal(res.status, 302)
    assert.equal(location(res), '/new?a=1&b=2')
    assert.match(String(res.body), /Redirecting to \/new\?a=1&b=2/)
  })

  it('builds the target from placeholders and parameters', () => {
    const res = answer(
      {
        match: { pattern: '/u/:id' },
        redirect: { status: 301, to: 'https://{request.hostname}/users/{params.id}' },
      },
      '/u/42?x=1',
    )
    assert.equal(res.status, 301)
    assert.equal(location(res), 'https://old.example.com/users/42?x=1')
  })

  it('can drop the query, and does not append it twice', () => {
    assert.equal(location(answer({ redirect: { to: '/n', keepQuery: false } }, '/o?a=1')), '/n')
    const uri = answer({ redirect: { status: 308, to: 'https://new.example.com{request.uri}' } }, '/o/p?a=1')
    assert.equal(location(uri), 'https://new.example.com/o/p?a=1')
  })

  it('joins queries and keeps fragments last', () => {
    assert.equal(withQuery('/n?x=1', 'a=1'), '/n?x=1&a=1')
    assert.equal(withQuery('/n?', 'a=1'), '/n?a=1')
    assert.equal(withQuery('/n#top', 'a=1'), '/n?a=1#top')
    assert.equal(withQuery('/n', ''), '/n')
  })

  it('never lets the path turn a same-site redirect into another site', () => {
    const res = answer(
      { match: { pattern: '/go/*rest' }, redirect: { to: '/{params.rest}' } },
      '/go//evil.example/x',
    )
    assert.equal(location(res), '/evil.example/x')
    const viaPath = answer({ redirect: { to: '{request.path}', keepQuery: false } }, '//evil.example')
    assert.equal(location(viaPath), '/evil.example')
    assert.equal(sameSiteGuard('/{params.a}')('/\\evil.example'), '/evil.example')
    assert.equal(
      sameSiteGuard('//cdn.example.com{request.path}')('//cdn.example.com/a'),
      '//cdn.example.com/a',
    )
  })

  it('refuses targets whose host the path or query could choose', () => {
    assert.match(
      redirectTargetProblem('https://new.example.com{params.x}') ?? '',
      /could choose the redirect's host/,
    )
    assert.match(redirectTargetProblem('https://{params.tenant}.example.com/') ?? '', /\{params\.tenant\}/)
    assert.match(redirectTargetProblem('{request.query}') ?? '', /\{request\.query\}/)
    for (const ok of [
      'https://{request.hostname}{request.uri}',
      '{request.scheme}://{request.host}/x/{params.y}',
      'https://new.example.com/{params.x}',
      'https://new.example.com?next={params.x}',
      '/{params.rest}',
      '//cdn.example.com/{params.x}',
    ])
      assert.equal(redirectTargetProblem(ok), undefined, ok)
  })
})
