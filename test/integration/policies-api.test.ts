/**
 * Policies from TypeScript: a typed configuration object with several
 * policies on one route, imported from the package entry, and a user hook
 * that reads what they established (the consumer, the verified claims).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SignJWT } from 'jose'
import { type GatewayConfigInput, type GatewayHooks, hashPassword } from '../../src/index.ts'
import { startGateway, startOrigin } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'

const SECRET = 'typescript-users-secret-of-32-bytes!'

describe('policies from TypeScript', () => {
  it('combine on one route, and user hooks see the consumer and claims', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const config: GatewayConfigInput = {
      upstreams: { app: { targets: [{ url: origin.url }] } },
      rateLimits: { perUser: { rate: '2/m', key: 'consumer', store: 'shared' } },
      routes: [
        {
          match: { path: '/api' },
          upstream: 'app',
          access: { allow: ['127.0.0.0/8', '::1'] },
          cors: { origins: ['https://app.example.com'] },
          auth: { jwt: { secret: SECRET, forward: { 'x-user': 'sub' } } },
          rateLimit: 'perUser',
          concurrency: { max: 10, queue: 10 },
        },
        { match: { path: '/ops' }, upstream: 'app', auth: { basic: { users: { ops: hashPassword('pw') } } } },
      ],
    }
    const seen: string[] = []
    const hooks: GatewayHooks = {
      onRequest(session) {
        seen.push(`${session.consumer} ${String(session.claims?.plan)}`)
      },
    }
    const gw = await startGateway(config, { t, hooks })
    const token = await new SignJWT({ sub: 'ann', plan: 'pro' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(SECRET))
    const headers = { authorization: `Bearer ${token}`, origin: 'https://app.example.com' }
    const first = await get(`${gw.url}/api/x`, headers)
    assert.equal(first.status, 200)
    assert.equal(first.headers['access-control-allow-origin'], 'https://app.example.com')
    assert.equal(origin.requests[0]!.headers['x-user'], 'ann')
    assert.equal((await get(`${gw.url}/api/x`, headers)).status, 200)
    const third = await get(`${gw.url}/api/x`, headers)
    assert.equal(third.status, 429)
    assert.equal(third.headers['access-control-allow-origin'], 'https://app.example.com')
    const ops = await get(`${gw.url}/ops`, {
      authorization: `Basic ${Buffer.from('ops:pw').toString('base64')}`,
    })
    assert.equal(ops.status, 200)
    assert.deepEqual(seen, ['ann pro', 'ann pro', 'ops undefined'])
  })
})
