import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { REDACTED, redactConfig, redactUrl } from './redact.ts'

describe('redactConfig', () => {
  it('hides secrets by key, anywhere, and passwords in URLs; keeps the rest', () => {
    const config = {
      admin: {
        address: { host: '0.0.0.0', port: 9901 },
        token: 't0ken',
        tokens: { ops: 'x' },
        metrics: true,
      },
      stores: { redis: { url: 'redis://user:hunter2@redis:6379/0', sentinel: { password: 'p' } } },
      routes: [
        {
          auth: {
            jwt: { secret: 's3cret', publicKey: '/etc/keys/pub.pem' },
            basic: { users: { ann: 'scrypt:…' } },
          },
          apiKey: { keys: [{ consumer: 'c', hash: 'sha256:ab' }] },
          headers: { request: { set: { Authorization: 'Bearer abc', 'X-Trace': 'keep' } } },
          rateLimit: { key: 'client.ip' },
        },
      ],
      forward: { upstreamProxy: 'http://u:pw@proxy:3128' },
      listen: [{ tls: { cert: '/c.pem', key: '/k.pem' } }],
    }
    const out = JSON.stringify(redactConfig(config))
    for (const secret of ['t0ken', 'hunter2', 's3cret', 'scrypt', 'sha256:ab', 'Bearer abc', ':pw@', '"p"'])
      assert.ok(!out.includes(secret), `${secret} leaked: ${out}`)
    const r = redactConfig(config) as typeof config
    assert.equal(r.admin.token, REDACTED)
    assert.equal(r.stores.redis.url, 'redis://user:redacted@redis:6379/0')
    assert.equal(r.routes[0]!.auth.jwt.publicKey, '/etc/keys/pub.pem')
    assert.equal(r.routes[0]!.rateLimit.key, 'client.ip')
    assert.equal(r.routes[0]!.headers.request.set['X-Trace'], 'keep')
    assert.equal(r.listen[0]!.tls.key, '/k.pem')
    assert.equal(r.admin.metrics, true)
  })

  it('leaves strings without credentials alone', () => {
    assert.equal(redactUrl('http://example.com/a@b'), 'http://example.com/a@b')
    assert.equal(redactUrl('user@example.com'), 'user@example.com')
  })
})
