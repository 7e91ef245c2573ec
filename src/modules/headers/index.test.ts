import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { configSchema } from '../../config/schema.ts'
import { HeaderList } from '../../core/header-list.ts'
import type { ResponseHeadView, UpstreamRequest } from '../../core/hooks.ts'
import { Session } from '../../core/session.ts'
import { RequestHead } from '../../http1/request-head.ts'
import { Router } from '../../routing/router.ts'
import { headersModule } from './index.ts'

function setup(route: object, target = '/items/9') {
  const config = configSchema.parse({
    upstreams: { a: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'items', upstream: 'a', match: { pattern: '/items/:id' }, ...route }],
  })
  const head = new RequestHead()
  head.method = 'GET'
  head.target = target
  head.host = 'h'
  const session = new Session(head, '192.0.2.7', 1, false, 0)
  session.id = 'abc-123'
  session.route = new Router(config.routes).match(session)
  return { hooks: headersModule(config.routes[0]!, config), session }
}

describe('headers module', () => {
  it('is absent from routes without headers', () => {
    const config = configSchema.parse({ routes: [{ respond: {} }] })
    assert.equal(headersModule(config.routes[0]!, config), undefined)
  })

  it('only hooks the sides it changes', () => {
    assert.equal(setup({ headers: { request: { set: { a: 'b' } } } }).hooks?.onResponse, undefined)
    assert.equal(setup({ headers: { response: { remove: ['a'] } } }).hooks?.onUpstreamRequest, undefined)
  })

  it('removes, then sets, then adds request fields, with placeholders', () => {
    const { hooks, session } = setup({
      headers: {
        request: {
          remove: ['Cookie', 'x-add'],
          set: { 'X-Client': '{client.ip}', 'X-Route': '{route.name}/{params.id}', accept: 'text/plain' },
          add: { 'X-Add': 'id={request.id}' },
        },
      },
    })
    const req: UpstreamRequest = {
      method: 'GET',
      path: '/items/9',
      headers: new HeaderList(['Host', 'h', 'Accept', 'a', 'cookie', 'c=1', 'Accept', 'b', 'X-Add', 'old']),
    }
    hooks!.onUpstreamRequest!(session, req)
    assert.deepEqual(req.headers.raw, [
      'Host',
      'h',
      'Accept',
      'text/plain',
      'X-Client',
      '192.0.2.7',
      'X-Route',
      'items/9',
      'X-Add',
      'id=abc-123',
    ])
  })

  it('changes response fields', () => {
    const { hooks, session } = setup({
      headers: {
        response: { remove: ['server'], set: { 'x-request-id': '{request.id}' }, add: { Vary: 'X-A' } },
      },
    })
    const res: ResponseHeadView = {
      status: 200,
      reason: 'OK',
      headers: new HeaderList(['Server', 'origin', 'Vary', 'Accept']),
    }
    hooks!.onResponse!(session, res)
    assert.deepEqual(res.headers.raw, ['Vary', 'Accept', 'x-request-id', 'abc-123', 'Vary', 'X-A'])
  })
})
