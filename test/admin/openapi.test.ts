/**
 * Every answer of the admin API, taken live from a gateway, validates
 * against docs/admin-openapi.yaml (OpenAPI 3.1: its schemas are JSON Schema
 * 2020-12, checked with Ajv): the documented status for each path and
 * method, and the body's schema for that status. Secrets in the
 * configuration come back redacted.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { parse } from 'yaml'
import { startGateway, startOrigin } from '../helpers/gateway.ts'

const SPEC_PATH = new URL('../../docs/admin-openapi.yaml', import.meta.url)
const TOKEN = 'openapi-test-token-abcdefgh'
const JWT_SECRET = 'a-jwt-secret-that-must-not-show-1234567890'

interface Operation {
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: unknown }> }>
}
type Spec = {
  paths: Record<string, Record<string, Operation>>
  components: { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }
}

describe('admin API against docs/admin-openapi.yaml', () => {
  it('live answers validate', { timeout: 30_000 }, async (t) => {
    const spec = parse(readFileSync(SPEC_PATH, 'utf8')) as Spec
    const ajv = new Ajv2020({ strict: false, allErrors: true })
    ajv.addSchema(spec as object, 'openapi')
    const origin = await startOrigin((_req, res) => res.end('ok'), { t })
    const gw = await startGateway(
      {
        admin: { address: '127.0.0.1:0', token: TOKEN },
        upstreams: { origin: { targets: [{ url: origin.url }, { url: `${origin.url}/b` }], required: true } },
        routes: [
          { name: 'api', match: { path: '/api' }, upstream: 'origin', auth: { jwt: { secret: JWT_SECRET } } },
          { name: 'open', upstream: 'origin' },
        ],
      },
      { t },
    )
    assert.equal((await fetch(`${gw.url}/x`)).status, 200)
    const base = `http://127.0.0.1:${gw.gw.admin!.server!.address().port}`
    const checked: string[] = []

    /** call asks the live API and validates the answer against the spec's path template. */
    async function call(method: string, template: string, path: string, body?: unknown, token = TOKEN) {
      const res = await fetch(base + path, {
        method,
        headers: {
          ...(token && { authorization: `Bearer ${token}` }),
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      const op = spec.paths[template]?.[method.toLowerCase()]
      assert.ok(op, `${method} ${template} is not in the spec`)
      const status = String(res.status)
      let response = op.responses[status]
      assert.ok(response, `${method} ${path}: status ${res.status} is not documented`)
      // Where the response lives in the spec, as a JSON pointer (RFC 6901: ~1 is /).
      const esc = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1')
      let pointer = `#/paths/${esc(template)}/${method.toLowerCase()}/responses/${status}`
      if (response.$ref) {
        pointer = response.$ref
        response = spec.components.responses[response.$ref.split('/').pop()!]!
      }
      const type = (res.headers.get('content-type') ?? '').split(';')[0]!
      assert.ok(
        response.content?.[type],
        `${method} ${path} ${status}: content type ${type} is not documented`,
      )
      const text = await res.text()
      const value: unknown = type === 'application/json' ? JSON.parse(text) : text
      const validate = ajv.getSchema(`openapi${pointer}/content/${esc(type)}/schema`)
      assert.ok(validate, `no schema at ${pointer}`)
      assert.ok(
        validate(value),
        `${method} ${path} ${status}: ${ajv.errorsText(validate.errors)}\n${text.slice(0, 500)}`,
      )
      checked.push(`${method} ${path} ${res.status}`)
      return { status: res.status, value, headers: res.headers }
    }

    assert.equal((await call('GET', '/healthz', '/healthz', undefined, '')).status, 200)
    assert.equal((await call('GET', '/readyz', '/readyz', undefined, '')).status, 200)
    assert.equal((await call('GET', '/metrics', '/metrics')).status, 200)
    assert.equal(
      (await call('GET', '/metrics', '/metrics', undefined, 'wrong-token-wrong-token')).status,
      401,
    )
    assert.equal((await call('GET', '/api/version', '/api/version')).status, 200)
    const config = await call('GET', '/api/config', '/api/config')
    assert.doesNotMatch(JSON.stringify(config.value), new RegExp(`${JWT_SECRET}|${TOKEN}`))
    assert.equal((await call('GET', '/api/routes', '/api/routes')).status, 200)
    const route = await call('GET', '/api/routes/{name}', '/api/routes/api')
    assert.doesNotMatch(JSON.stringify(route.value), new RegExp(JWT_SECRET))
    assert.equal((await call('GET', '/api/routes/{name}', '/api/routes/nope')).status, 404)
    assert.equal((await call('GET', '/api/upstreams', '/api/upstreams')).status, 200)
    assert.equal((await call('GET', '/api/upstreams/{name}', '/api/upstreams/origin')).status, 200)
    assert.equal((await call('GET', '/api/upstreams/{name}', '/api/upstreams/nope')).status, 404)
    assert.equal((await call('GET', '/api/workers', '/api/workers')).status, 200)
    assert.equal((await call('GET', '/api/connections', '/api/connections')).status, 200)
    const drain = '/api/upstreams/{name}/drain'
    assert.equal(
      (await call('POST', drain, '/api/upstreams/origin/drain', { target: origin.url })).status,
      200,
    )
    assert.equal((await call('POST', drain, '/api/upstreams/origin/drain', { nope: 1 })).status, 400)
    assert.equal(
      (await call('POST', drain, '/api/upstreams/origin/drain', { target: 'http://x:1' })).status,
      404,
    )
    const weight = '/api/upstreams/{name}/weight'
    assert.equal(
      (await call('POST', weight, '/api/upstreams/origin/weight', { target: origin.url, weight: 5 })).status,
      200,
    )
    assert.equal(
      (await call('POST', weight, '/api/upstreams/origin/weight', { target: origin.url, weight: 0 })).status,
      400,
    )
    // Both targets drained: the required upstream makes the instance not ready.
    await call('POST', drain, '/api/upstreams/origin/drain', { target: `${origin.url}/b` })
    const ready = await call('GET', '/readyz', '/readyz', undefined, '')
    assert.equal(ready.status, 503)
    assert.deepEqual((ready.value as { reasons: string[] }).reasons, [
      'upstream origin has no available target',
    ])
    const undrain = '/api/upstreams/{name}/undrain'
    assert.equal(
      (await call('POST', undrain, '/api/upstreams/origin/undrain', { target: origin.url })).status,
      200,
    )
    // Started from an object, not a file: reload has nothing to read.
    assert.equal((await call('POST', '/api/reload', '/api/reload')).status, 409)
    t.diagnostic(`validated ${checked.length} answers`)
    assert.equal(checked.length, 23)
  })
})
