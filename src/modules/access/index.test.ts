/**
 * access over real sockets: allow and deny lists by CIDR, IPv4 and IPv6, on
 * the real client address under trustedProxies (a forged X-Forwarded-For
 * from an untrusted peer is not believed), 403 FORBIDDEN.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { proxyConfig, startGateway, startOrigin } from '../../../test/helpers/gateway.ts'
import { get } from '../../../test/helpers/http-get.ts'

describe('access', () => {
  it('checks the real client address under trustedProxies, IPv4 and IPv6, deny first', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const gw = await startGateway(
      proxyConfig(origin.url, {
        proxy: { trustedProxies: ['127.0.0.1'] },
        routes: [
          {
            match: {},
            upstream: 'origin',
            access: { allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.9.0.0/16', '2001:db8:bad::/48'] },
          },
        ],
      }),
      { t },
    )
    const from = async (xff: string | undefined) =>
      (await get(gw.url, xff === undefined ? {} : { 'x-forwarded-for': xff, accept: 'application/json' }))
        .status
    assert.equal(await from('10.1.2.3'), 200)
    assert.equal(await from('2001:db8::1'), 200)
    assert.equal(await from('[2001:db8::2]:5000'), 200)
    assert.equal(await from('10.9.1.1'), 403)
    assert.equal(await from('2001:db8:bad::1'), 403)
    assert.equal(await from('192.0.2.1'), 403)
    assert.equal(await from('10.1.2.3, 192.0.2.1'), 403) // the rightmost untrusted hop counts
    assert.equal(await from(undefined), 403) // the peer itself, 127.0.0.1, is not allowed
    const body = await get(gw.url, { 'x-forwarded-for': '192.0.2.1', accept: 'application/json' })
    assert.equal(JSON.parse(body.body).error.code, 'FORBIDDEN')
  })

  it('does not believe X-Forwarded-For from an untrusted peer', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const gw = await startGateway(
      proxyConfig(origin.url, {
        routes: [{ match: {}, upstream: 'origin', access: { deny: ['127.0.0.0/8'] } }],
      }),
      { t },
    )
    assert.equal((await get(gw.url, { 'x-forwarded-for': '10.1.2.3' })).status, 403)
  })
})
