import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RequestHead } from '../http1/request-head.ts'
import { compileTemplate, TemplateError, templateProblem } from './placeholders.ts'
import { Session } from './session.ts'

function session(): Session {
  const head = new RequestHead()
  head.method = 'POST'
  head.target = '/a/b?x=1'
  head.host = 'Shop.Example.com:8443'
  const s = new Session(head, '203.0.113.9', 51000, true, 0)
  s.id = 'rid'
  s.route = { name: 'shop', upstream: 'u' }
  s.params = { id: '42' }
  return s
}

describe('placeholders', () => {
  it('renders request facts', () => {
    const t = compileTemplate(
      '{client.ip}:{client.port} {request.id} {request.method} {request.scheme}://{request.host} ' +
        '{request.hostname} {request.path} {request.query} {request.uri} {route.name} {params.id}',
    )
    assert.equal(
      t.render(session()),
      '203.0.113.9:51000 rid POST https://Shop.Example.com:8443 shop.example.com /a/b x=1 /a/b?x=1 shop 42',
    )
    assert.equal(t.constant, undefined)
  })

  it('is constant without request placeholders; env is read at compile time', () => {
    const t = compileTemplate('v={env.APP_VERSION} {{literal}}', { env: { APP_VERSION: '1.2' } })
    assert.equal(t.constant, 'v=1.2 {literal}')
    assert.equal(t.render(session()), 'v=1.2 {literal}')
  })

  it('refuses unknown, unterminated and uncaptured placeholders and unset variables', () => {
    assert.match(templateProblem('{client.addr}') ?? '', /unknown placeholder \{client\.addr\} at 0/)
    assert.match(templateProblem('x{request.path') ?? '', /unterminated placeholder at 1/)
    assert.match(templateProblem('{params.id}', { params: new Set(['user']) }) ?? '', /does not capture 'id'/)
    assert.match(templateProblem('{env.NOPE_NOT_SET}', { env: {} }) ?? '', /NOPE_NOT_SET is not set/)
    assert.throws(() => compileTemplate('{x}'), TemplateError)
    assert.equal(templateProblem('{params.anything}'), undefined)
    assert.equal(templateProblem('a } b'), undefined)
  })
})
