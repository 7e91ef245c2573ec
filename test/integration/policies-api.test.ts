/**
 * Policies from TypeScript: a typed configuration object with several
 * policies on one route, imported from the package entry, and a user hook
 * that reads what they established (the consumer, the verified claims).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

  it('never write credentials to the access log', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'policy-log-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const logFile = join(dir, 'access.log')
    const origin = await startOrigin(undefined, { t })
    const key = 'secret-api-key-4242424242'
    const gw = await startGateway(
      {
        accessLog: { enabled: true, path: logFile },
        upstreams: { app: { targets: [{ url: origin.url }] } },
        routes: [
          {
            match: { path: '/key' },
            upstream: 'app',
            auth: {
              apiKey: {
                from: ['query:api_key', 'header:x-api-key'],
                keys: [{ consumer: 'c', hash: `sha256:${createHash('sha256').update(key).digest('hex')}` }],
              },
            },
          },
          {
            match: { path: '/jwt' },
            upstream: 'app',
            auth: { jwt: { secret: SECRET, from: ['query:token'] } },
          },
          {
            match: { path: '/basic' },
            upstream: 'app',
            auth: { basic: { users: { u: hashPassword('pw-7777') } } },
          },
        ],
      },
      { t },
    )
    const token = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(SECRET))
    assert.equal((await get(`${gw.url}/key?api_key=${key}`)).status, 200)
    assert.equal((await get(`${gw.url}/key?api_key=wrong-key-5151515151`)).status, 401)
    assert.equal((await get(`${gw.url}/jwt?token=${token}`)).status, 200)
    assert.equal((await get(`${gw.url}/jwt?token=${token}x`)).status, 401)
    const basic = (p: string) => ({ authorization: `Basic ${Buffer.from(`u:${p}`).toString('base64')}` })
    assert.equal((await get(`${gw.url}/basic`, basic('pw-7777'))).status, 200)
    assert.equal((await get(`${gw.url}/basic`, basic('pw-8888'))).status, 401)
    await gw.close()
    const log = await readFile(logFile, 'utf8')
    assert.equal(log.trim().split('\n').length, 6, log)
    for (const secret of [key, 'wrong-key-5151515151', token.slice(-20), 'pw-7777', 'pw-8888', 'dTpwdy'])
      assert.ok(!log.includes(secret), `${secret} in the access log:\n${log}`)
  })
})
