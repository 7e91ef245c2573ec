/**
 * auth.apiKey over real sockets: a key from a header or the query whose
 * SHA-256 is configured passes and names its consumer (a rate limit keys on
 * it); a missing or unknown key gets 401 with a challenge; the key never
 * reaches the session's error (what logs see); plain keys are refused in
 * configuration.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { proxyConfig, startGateway, startOrigin } from '../../../test/helpers/gateway.ts'
import { get } from '../../../test/helpers/http-get.ts'
import { configSchema } from '../../config/schema.ts'
import type { Session } from '../../core/session.ts'

const sha = (k: string) => `sha256:${createHash('sha256').update(k).digest('hex')}`

describe('auth.apiKey', () => {
  it('accepts configured keys from a header or the query, names the consumer, refuses others', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const logged: string[] = []
    const gw = await startGateway(
      proxyConfig(origin.url, {
        routes: [
          {
            match: {},
            upstream: 'origin',
            auth: {
              apiKey: {
                from: ['header:x-api-key', 'query:api_key'],
                keys: [
                  { consumer: 'acme', hash: sha('acme-key-0123456789') },
                  { consumer: 'globex', hash: sha('globex-key-9876543210') },
                ],
              },
            },
            rateLimit: { rate: '2/h', key: 'consumer' },
          },
        ],
      }),
      { t, hooks: { onLog: (s: Session) => void logged.push(`${s.consumer} ${s.error?.message ?? ''}`) } },
    )
    assert.equal((await get(gw.url, { 'x-api-key': 'acme-key-0123456789' })).status, 200)
    assert.equal((await get(`${gw.url}/?api_key=acme-key-0123456789`)).status, 200)
    assert.equal((await get(gw.url, { 'x-api-key': 'acme-key-0123456789' })).status, 429) // acme's 2 are spent
    assert.equal((await get(gw.url, { 'x-api-key': 'globex-key-9876543210' })).status, 200)
    const wrong = await get(gw.url, { 'x-api-key': 'guess-key-0000000000', accept: 'application/json' })
    assert.equal(wrong.status, 401)
    assert.equal(
      wrong.headers['www-authenticate'],
      'ApiKey realm="portcullis", header="x-api-key", query="api_key"',
    )
    assert.equal(JSON.parse(wrong.body).error.code, 'UNAUTHENTICATED')
    assert.equal((await get(gw.url)).status, 401)
    assert.equal(origin.requests.length, 3)
    assert.ok(logged.includes('acme '), logged.join('\n'))
    assert.ok(!logged.join('\n').includes('guess-key'), 'a key reached the log')
  })

  it('refuses a key written plain in the configuration', () => {
    const r = configSchema.safeParse({
      routes: [{ match: {}, respond: {}, auth: { apiKey: { keys: [{ consumer: 'a', hash: 'my-key' }] } } }],
    })
    assert.equal(r.success, false)
    assert.match(r.error!.issues[0]!.message, /sha256:/)
  })
})
