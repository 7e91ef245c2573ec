/**
 * auth.basic over real sockets: scrypt hashes made by hashPassword (the
 * documented one-liner's format), 401 with a Basic challenge for missing,
 * malformed or wrong credentials, the user as consumer, no password in
 * what logs see, weak or plain hashes refused in configuration.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { proxyConfig, startGateway, startOrigin } from '../../../test/helpers/gateway.ts'
import { get } from '../../../test/helpers/http-get.ts'
import { configSchema } from '../../config/schema.ts'
import type { Session } from '../../core/session.ts'
import { hashPassword } from './hash.ts'

const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
})

/** The one-liner of hash.ts and docs/configuration.md, run as a user would. */
function oneLiner(password: string): string {
  const script =
    'const c=require("crypto"),s=c.randomBytes(16);console.log("scrypt:16384:8:1:"+s.toString("base64")+":"+c.scryptSync(process.argv[1],s,32,{N:16384,r:8,p:1}).toString("base64"))'
  return execFileSync(process.execPath, ['-e', script, password], { encoding: 'utf8' }).trim()
}

describe('auth.basic', () => {
  it('accepts users whose password matches the scrypt hash, challenges the rest', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const logged: string[] = []
    const gw = await startGateway(
      proxyConfig(origin.url, {
        routes: [
          {
            match: {},
            upstream: 'origin',
            auth: {
              basic: {
                realm: 'staff',
                users: { ann: hashPassword('correct horse'), bob: oneLiner('battery staple') },
              },
            },
          },
        ],
      }),
      { t, hooks: { onLog: (s: Session) => void logged.push(`${s.consumer} ${s.error?.message ?? ''}`) } },
    )
    assert.equal((await get(gw.url, basic('ann', 'correct horse'))).status, 200)
    assert.equal((await get(gw.url, basic('ann', 'correct horse'))).status, 200) // remembered
    assert.equal((await get(gw.url, basic('bob', 'battery staple'))).status, 200)
    for (const headers of [
      basic('ann', 'wrong'),
      basic('nobody', 'correct horse'),
      {},
      { authorization: 'Basic !!!' },
      { authorization: 'Bearer x' },
    ]) {
      const res = await get(gw.url, headers)
      assert.equal(res.status, 401, JSON.stringify(headers))
      assert.equal(res.headers['www-authenticate'], 'Basic realm="staff", charset="UTF-8"')
    }
    assert.equal(origin.requests.length, 3)
    assert.ok(logged.includes('ann ') && logged.includes('bob '), logged.join('\n'))
    assert.ok(!/horse|wrong|staple/.test(logged.join('\n')), 'a password reached the log')
  })

  it('refuses plain passwords and weak hashes in configuration', () => {
    for (const hash of ['secret', 'scrypt:1024:8:1:c2FsdA==:aGFzaGhhc2hoYXNoaGFzaA==']) {
      const r = configSchema.safeParse({
        routes: [{ match: {}, respond: {}, auth: { basic: { users: { ann: hash } } } }],
      })
      assert.equal(r.success, false, hash)
    }
  })
})
