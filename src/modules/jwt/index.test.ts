/**
 * auth.jwt over real sockets with keys generated here: HMAC secrets, PEM
 * files (RSA, EC, Ed25519), claims (exp/nbf with skew, iss, aud, required
 * claims, claim values → 403), token sources, claim headers upstream, and
 * refusals: alg none, algorithm confusion, bad signatures.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { SignJWT } from 'jose'
import { proxyConfig, startGateway, startOrigin, type OriginHandle } from '../../../test/helpers/gateway.ts'
import { get } from '../../../test/helpers/http-get.ts'
import { configSchema } from '../../config/schema.ts'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'
const secret = new TextEncoder().encode(SECRET)

async function gateway(
  t: TestContext,
  jwt: object,
  route: object = {},
): Promise<{ url: string; origin: OriginHandle }> {
  const origin = await startOrigin(undefined, { t })
  const gw = await startGateway(
    proxyConfig(origin.url, {
      routes: [{ name: 'api', match: {}, upstream: 'origin', auth: { jwt }, ...route }],
    }),
    { t },
  )
  return { url: gw.url, origin }
}

function sign(
  claims: Record<string, unknown>,
  key: KeyObject | Uint8Array = secret,
  alg = 'HS256',
  kid?: string,
) {
  return new SignJWT(claims).setProtectedHeader({ alg, ...(kid && { kid }) }).sign(key)
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const now = () => Math.floor(Date.now() / 1000)

describe('auth.jwt', () => {
  it('lets a valid HS256 token through, forwards claims as headers and replaces a forged one', async (t) => {
    const { url, origin } = await gateway(t, {
      secret: SECRET,
      forward: { 'x-user': 'sub', 'x-roles': 'roles' },
    })
    const token = await sign({ sub: 'ann', roles: ['admin'], exp: now() + 60 })
    const res = await get(url, { ...bearer(token), 'x-user': 'mallory' })
    assert.equal(res.status, 200)
    assert.equal(origin.requests[0]!.headers['x-user'], 'ann')
    assert.equal(origin.requests[0]!.headers['x-roles'], '["admin"]')
    assert.equal((await get(url, bearer(token))).status, 200) // the cached verification
  })

  it('answers 401 with a Bearer challenge, without and with a bad token', async (t) => {
    const { url, origin } = await gateway(t, { secret: SECRET, realm: 'api' })
    const none = await get(url, { accept: 'application/json' })
    assert.equal(none.status, 401)
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="api"')
    assert.equal(JSON.parse(none.body).error.code, 'UNAUTHENTICATED')
    const forged = await sign({ sub: 'ann' }, new TextEncoder().encode('another-secret-of-at-least-32-bytes'))
    const bad = await get(url, bearer(forged))
    assert.equal(bad.status, 401)
    assert.equal(
      bad.headers['www-authenticate'],
      'Bearer realm="api", error="invalid_token", error_description="signature invalid"',
    )
    assert.equal(origin.requests.length, 0)
  })

  it('checks exp and nbf with the clock skew, iss, aud and required claims', async (t) => {
    const { url } = await gateway(t, {
      secret: SECRET,
      issuer: 'https://idp.test',
      audience: ['api', 'web'],
      clockSkew: '10s',
      requiredClaims: ['sub'],
    })
    const ok = { sub: 'a', iss: 'https://idp.test', aud: 'api' }
    const status = async (claims: Record<string, unknown>) =>
      (await get(url, bearer(await sign(claims)))).status
    assert.equal(await status({ ...ok, exp: now() - 5 }), 200) // within the skew
    assert.equal(await status({ ...ok, nbf: now() + 5 }), 200)
    const expired = await get(url, bearer(await sign({ ...ok, exp: now() - 30 })))
    assert.equal(expired.status, 401)
    assert.match(expired.headers['www-authenticate']!, /error_description="token expired"/)
    assert.equal(await status({ ...ok, nbf: now() + 30 }), 401)
    assert.equal(await status({ ...ok, iss: 'https://evil.test' }), 401)
    assert.equal(await status({ ...ok, aud: 'other' }), 401)
    assert.equal(await status({ iss: ok.iss, aud: ok.aud }), 401)
  })

  it('answers 403 insufficient_scope to a valid token without the claim values', async (t) => {
    const { url } = await gateway(t, { secret: SECRET, claims: { role: ['admin', 'ops'] } })
    assert.equal((await get(url, bearer(await sign({ role: 'ops' })))).status, 200)
    const res = await get(url, bearer(await sign({ role: 'user' })))
    assert.equal(res.status, 403)
    assert.match(res.headers['www-authenticate']!, /error="insufficient_scope"/)
  })

  it('reads the token from a cookie or a query parameter', async (t) => {
    const { url } = await gateway(t, { secret: SECRET, from: ['cookie:session', 'query:access_token'] })
    const token = await sign({ sub: 'a' })
    assert.equal((await get(url, { cookie: `theme=dark; session=${token}` })).status, 200)
    assert.equal((await get(`${url}/?access_token=${token}`)).status, 200)
    assert.equal((await get(url, bearer(token))).status, 401) // not a configured source
  })

  it('refuses alg none and an HS256 token signed with the RSA public key (algorithm confusion)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'jwt-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string
    await writeFile(join(dir, 'rsa.pem'), pem)
    const { url } = await gateway(t, { publicKey: join(dir, 'rsa.pem') })
    assert.equal((await get(url, bearer(await sign({ sub: 'a' }, rsa.privateKey, 'RS256')))).status, 200)
    assert.equal((await get(url, bearer(await sign({ sub: 'a' }, rsa.privateKey, 'PS384')))).status, 200)
    const confused = await get(url, bearer(await sign({ sub: 'a' }, new TextEncoder().encode(pem), 'HS256')))
    assert.equal(confused.status, 401)
    assert.match(confused.headers['www-authenticate']!, /algorithm not allowed/)
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'a' })}.`
    assert.equal((await get(url, bearer(unsigned))).status, 401)
  })

  it('verifies ES256, ES384 and EdDSA tokens from PEM keys', async (t) => {
    for (const [type, options, alg] of [
      ['ec', { namedCurve: 'P-256' }, 'ES256'],
      ['ec', { namedCurve: 'P-384' }, 'ES384'],
      ['ed25519', {}, 'EdDSA'],
    ] as const) {
      const pair = generateKeyPairSync(type as 'ec', options as { namedCurve: string })
      const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string
      const { url } = await gateway(t, { publicKey: pem })
      assert.equal((await get(url, bearer(await sign({ sub: 'a' }, pair.privateKey, alg)))).status, 200, alg)
      const other = generateKeyPairSync(type as 'ec', options as { namedCurve: string })
      assert.equal((await get(url, bearer(await sign({ sub: 'a' }, other.privateKey, alg)))).status, 401, alg)
    }
  })

  it('verifies with public JWKs written in the configuration, chosen by kid', async (t) => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const ed = generateKeyPairSync('ed25519')
    const jwk = (k: KeyObject, kid: string) => ({ ...k.export({ format: 'jwk' }), kid })
    const keys = { keys: [jwk(ec.publicKey, 'ec-1'), jwk(ed.publicKey, 'ed-1')] }
    const { url } = await gateway(t, { keys })
    assert.equal(
      (await get(url, bearer(await sign({ sub: 'a' }, ec.privateKey, 'ES256', 'ec-1')))).status,
      200,
    )
    assert.equal(
      (await get(url, bearer(await sign({ sub: 'a' }, ed.privateKey, 'EdDSA', 'ed-1')))).status,
      200,
    )
    // The right key under the wrong kid, an unknown kid, no kid with two keys: refused.
    assert.equal(
      (await get(url, bearer(await sign({ sub: 'a' }, ec.privateKey, 'ES256', 'ed-1')))).status,
      401,
    )
    assert.equal(
      (await get(url, bearer(await sign({ sub: 'a' }, ec.privateKey, 'ES256', 'nope')))).status,
      401,
    )
    assert.equal((await get(url, bearer(await sign({ sub: 'a' }, ec.privateKey, 'ES256')))).status, 401)
    // A list of one key without kid: tokens without kid use it.
    const one = await gateway(t, { keys: [ec.publicKey.export({ format: 'jwk' })] })
    assert.equal((await get(one.url, bearer(await sign({ sub: 'a' }, ec.privateKey, 'ES256')))).status, 200)
  })

  it('gives rate limits the consumer and claims', async (t) => {
    const { url } = await gateway(t, { secret: SECRET }, { rateLimit: { rate: '1/h', key: 'jwt.tenant' } })
    assert.equal((await get(url, bearer(await sign({ sub: 'a', tenant: 't1' })))).status, 200)
    assert.equal((await get(url, bearer(await sign({ sub: 'b', tenant: 't2' })))).status, 200)
    assert.equal((await get(url, bearer(await sign({ sub: 'c', tenant: 't1' })))).status, 429)
  })

  it('refuses configurations without one key source, short secrets and unreadable keys', () => {
    const problems = (jwt: object) => {
      const r = configSchema.safeParse({ routes: [{ match: {}, respond: {}, auth: { jwt } }] })
      return r.success ? [] : r.error.issues.map((i) => i.message)
    }
    assert.deepEqual(problems({ issuer: 'x' }), ['needs exactly one of secret, publicKey, jwks or keys'])
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    assert.deepEqual(problems({ keys: [ec.privateKey.export({ format: 'jwk' })] }), [
      'must be a public key (no "d", not "oct")',
    ])
    assert.deepEqual(problems({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }), [
      'must be a public key (no "d", not "oct")',
    ])
    assert.deepEqual(problems({ keys: [{ kty: 'EC', crv: 'P-256', x: 'bad', y: 'bad' }] }), [
      'is not a usable public signing key for the allowed algorithms',
    ])
    const pub = ec.publicKey.export({ format: 'jwk' })
    assert.deepEqual(problems({ keys: [pub, pub] }), ['several keys need distinct "kid"s'])
    assert.match(problems({ secret: 'short' })[0]!, /at least 32 bytes/)
    assert.match(problems({ publicKey: '/nonexistent/key.pem' })[0]!, /cannot read the key/)
  })
})
