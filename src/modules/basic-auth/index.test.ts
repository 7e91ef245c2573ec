/**
 * auth.basic over real sockets: scrypt and argon2 hashes made by hashPassword (the
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
import { hashPassword } from '../../config/password-hash.ts'

const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
})

/** The one-liner of hash.ts and docs/configuration.md, run as a user would. */
function oneLiner(password: string): string {
  const script =
    'const c=require("crypto"),s=c.randomBytes(16);console.log("scrypt:16384:8:1:"+s.toString("base64")+":"+c.scryptSync(process.argv[1],s,32,{N:16384,r:8,p:1}).toString("base64"))'
  return execFileSync(process.execPath, ['-e', script, password], { encoding: 'utf8' }).trim()
}

/** `echo -n 'correct horse' | argon2 saltsaltsalt -id -t 2 -m 16 -p 2 -e`, the reference implementation's CLI (Debian's argon2). */
const ARGON2_CLI =
  '$argon2id$v=19$m=65536,t=2,p=2$c2FsdHNhbHRzYWx0$Jeasp4VC87Vo/WtlNzCWUxijssgAggW31ewVWi7/LEg'

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

  it("accepts argon2 PHC hashes, its own and the reference argon2 tool's", async (t) => {
    const origin = await startOrigin(undefined, { t })
    const gw = await startGateway(
      proxyConfig(origin.url, {
        routes: [
          {
            match: {},
            upstream: 'origin',
            auth: { basic: { users: { ann: hashPassword('correct horse', 'argon2id'), cli: ARGON2_CLI } } },
          },
        ],
      }),
      { t },
    )
    assert.match(
      hashPassword('x', 'argon2id'),
      /^\$argon2id\$v=19\$m=65536,t=3,p=4\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
    )
    assert.equal((await get(gw.url, basic('ann', 'correct horse'))).status, 200)
    assert.equal((await get(gw.url, basic('cli', 'correct horse'))).status, 200)
    assert.equal((await get(gw.url, basic('cli', 'correct horsE'))).status, 401)
    assert.equal((await get(gw.url, basic('nobody', 'correct horse'))).status, 401)
    assert.equal(origin.requests.length, 2)
  })

  it('refuses plain passwords and weak hashes in configuration', () => {
    for (const hash of [
      'secret',
      'scrypt:1024:8:1:c2FsdA==:aGFzaGhhc2hoYXNoaGFzaA==',
      '$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHRzYWx0$Jeasp4VC87Vo/WtlNzCWUxijssgAggW31ewVWi7/LEg', // 4 MiB
      '$argon2id$v=19$m=16384,t=1,p=1$c2FsdHNhbHRzYWx0$Jeasp4VC87Vo/WtlNzCWUxijssgAggW31ewVWi7/LEg', // 16 MiB, one pass
      '$argon2id$v=16$m=65536,t=2,p=2$c2FsdHNhbHRzYWx0$Jeasp4VC87Vo/WtlNzCWUxijssgAggW31ewVWi7/LEg', // old version
    ]) {
      const r = configSchema.safeParse({
        routes: [{ match: {}, respond: {}, auth: { basic: { users: { ann: hash } } } }],
      })
      assert.equal(r.success, false, hash)
    }
  })
})
