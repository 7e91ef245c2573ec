/**
 * auth.jwt with a remote JWK Set served by a local server that rotates its
 * keys and can hang: keys by kid, a new kid fetched at once (rotation), an
 * unknown kid not refetched within the cool-down, a hanging or dead JWKS
 * never holding a request past the timeout, known keys kept meanwhile.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { SignJWT } from 'jose'
import { proxyConfig, startGateway, startOrigin } from '../../../test/helpers/gateway.ts'
import { get } from '../../../test/helpers/http-get.ts'

interface JwksServer {
  url: string
  /** Requests received. */
  hits: number
  /** The JWKs served, by kid. */
  keys: Map<string, object>
  /** While true, requests are accepted and never answered. */
  hang: boolean
}

async function startJwks(t: TestContext): Promise<JwksServer> {
  const state: JwksServer = { url: '', hits: 0, keys: new Map(), hang: false }
  const server = http.createServer((_req, res) => {
    state.hits++
    if (state.hang) return
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: [...state.keys.values()] }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`
  return state
}

function keyPair(kid: string, type: 'ec' | 'rsa' | 'ed25519' = 'ec') {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519')
  return {
    kid,
    privateKey: pair.privateKey,
    jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig' },
  }
}

function sign(privateKey: KeyObject, alg: string, kid: string): Promise<string> {
  return new SignJWT({ sub: 'ann' }).setProtectedHeader({ alg, kid }).setExpirationTime('5m').sign(privateKey)
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

async function gateway(t: TestContext, jwks: object): Promise<string> {
  const origin = await startOrigin(undefined, { t })
  const gw = await startGateway(
    proxyConfig(origin.url, { routes: [{ match: {}, upstream: 'origin', auth: { jwt: { jwks } } }] }),
    { t },
  )
  return gw.url
}

describe('auth.jwt with a JWKS', () => {
  it('picks keys by kid (ES256, RS256, EdDSA) and follows a rotation at once', async (t) => {
    const server = await startJwks(t)
    const a = keyPair('a')
    const r = keyPair('r', 'rsa')
    const e = keyPair('e', 'ed25519')
    for (const k of [a, r, e]) server.keys.set(k.kid, k.jwk)
    const url = await gateway(t, { url: server.url, cooldown: '0ms' })
    assert.equal((await get(url, bearer(await sign(a.privateKey, 'ES256', 'a')))).status, 200)
    assert.equal((await get(url, bearer(await sign(r.privateKey, 'RS256', 'r')))).status, 200)
    assert.equal((await get(url, bearer(await sign(e.privateKey, 'EdDSA', 'e')))).status, 200)
    // An HS256 token naming a public key's kid is refused whatever it was "signed" with.
    const hs = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'HS256', kid: 'r' })
      .sign(new TextEncoder().encode(JSON.stringify(r.jwk)))
    assert.equal((await get(url, bearer(hs))).status, 401)
    // Rotation: b is published, a withdrawn; a token with kid b passes on its first request.
    const b = keyPair('b')
    server.keys.set('b', b.jwk)
    server.keys.delete('a')
    assert.equal((await get(url, bearer(await sign(b.privateKey, 'ES256', 'b')))).status, 200)
  })

  it('refetches for an unknown kid at most once per cool-down', async (t) => {
    const server = await startJwks(t)
    const a = keyPair('a')
    server.keys.set('a', a.jwk)
    const url = await gateway(t, { url: server.url, cooldown: '10s' })
    assert.equal((await get(url, bearer(await sign(a.privateKey, 'ES256', 'a')))).status, 200)
    const hitsBefore = server.hits
    const stranger = keyPair('zz')
    for (let i = 0; i < 20; i++) {
      const res = await get(url, bearer(await sign(stranger.privateKey, 'ES256', `zz${i}`)))
      assert.equal(res.status, 401)
      assert.match(res.headers['www-authenticate']!, /unknown key/)
    }
    assert.ok(server.hits - hitsBefore <= 1, `${server.hits - hitsBefore} fetches for 20 unknown kids`)
  })

  it('never holds a request past the timeout when the JWKS hangs, and keeps known keys', async (t) => {
    const server = await startJwks(t)
    const a = keyPair('a')
    server.keys.set('a', a.jwk)
    server.hang = true
    const url = await gateway(t, { url: server.url, timeout: '200ms', cooldown: '0ms', refresh: '0ms' })
    const token = await sign(a.privateKey, 'ES256', 'a')
    let t0 = performance.now()
    const first = await get(url, { ...bearer(token), accept: 'application/json' })
    assert.equal(first.status, 503) // no key set yet, and the server does not answer
    assert.equal(JSON.parse(first.body).error.code, 'AUTH_UNAVAILABLE')
    assert.ok(performance.now() - t0 < 1000, `waited ${Math.round(performance.now() - t0)} ms`)
    server.hang = false
    await sleep(250) // the hanging fetch is abandoned at 200 ms
    assert.equal((await get(url, bearer(token))).status, 200)
    server.hang = true // refresh 0: every request starts a background refresh, none waits for it
    t0 = performance.now()
    const other = await sign(a.privateKey, 'ES256', 'a') // a new token: not in the verified cache
    for (let i = 0; i < 5; i++) assert.equal((await get(url, bearer(other))).status, 200)
    assert.ok(performance.now() - t0 < 500, `known keys waited ${Math.round(performance.now() - t0)} ms`)
  })
})
