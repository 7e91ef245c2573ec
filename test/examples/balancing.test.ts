/**
 * examples/balancing.yaml serves what its comments promise: each upstream's
 * targets are moved to origins of their own on 127.0.0.1 (the `api` one
 * keeps its host name, localhost, and is resolved), then the routes are
 * asked enough requests to show each algorithm.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import type { GatewayConfig } from '../../src/config/schema.ts'
import { createGateway } from '../../src/server/gateway.ts'
import { type OriginHandle, startOrigin } from '../helpers/gateway.ts'

const file = join(import.meta.dirname, '..', '..', 'examples', 'balancing.yaml')

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode!))
      })
      .on('error', reject)
  })
}

describe('examples/balancing.yaml', () => {
  it('hashes shoppers to one backend, resolves localhost, shares by weight', async (t) => {
    const loaded = await loadConfig(file, { ...process.env, PORT: '0' })
    assert.ok(loaded.ok, 'balancing.yaml loads')
    const config: GatewayConfig = structuredClone(loaded.config)
    config.listen = [{ address: { host: '127.0.0.1', port: 0 } }]
    const origins = new Map<string, OriginHandle[]>()
    for (const [name, u] of Object.entries(config.upstreams)) {
      const list: OriginHandle[] = []
      for (const target of u.targets) {
        const o = await startOrigin(undefined, { t })
        list.push(o)
        const url = new URL(target.url)
        url.port = String(o.port) // the host stays: localhost for `api`
        target.url = url.origin
      }
      origins.set(name, list)
    }
    // A selectUpstream hook that picks nothing sees the targets the balancer chooses among.
    const seen: string[] = []
    const hooks = {
      selectUpstream(session: { path: string }, targets: readonly { origin: string; address?: string }[]) {
        if (session.path.startsWith('/api')) seen.push(...targets.map((x) => x.address ?? 'by name'))
        return undefined
      },
    }
    const gw = await createGateway(config, { hooks: hooks as never })
    await gw.listen()
    t.after(() => gw.close({ drainTimeout: 100 }))
    const port = gw.addresses()[0]!.port

    // cart: every request of one session lands on one backend.
    const cart = origins.get('cart')!
    for (const shopper of ['ann', 'bob', 'cy', 'di', 'ed']) {
      const before = cart.map((o) => o.requests.length)
      for (let i = 0; i < 5; i++)
        assert.equal(await get(port, '/cart', { cookie: `session=${shopper}` }), 200)
      const got = cart.map((o, k) => o.requests.length - before[k]!)
      assert.equal(got.filter((n) => n > 0).length, 1, `${shopper}: ${got}`)
    }

    // api: localhost is resolved to one target per address (here 127.0.0.1).
    const api = origins.get('api')![0]!
    // The first answer may take a moment: until then the target connects by name.
    for (let i = 0; i < 100; i++) {
      seen.length = 0
      assert.equal(await get(port, '/api/x'), 200)
      if (seen.includes('127.0.0.1')) break
      await new Promise((r) => setTimeout(r, 20))
    }
    assert.deepEqual(seen, ['127.0.0.1'])
    const before = api.requests.length
    assert.equal(await get(port, '/api/x'), 200)
    assert.equal(api.requests.length, before + 1)

    // search: both backends answer alike, so both get traffic.
    for (let i = 0; i < 20; i++) assert.equal(await get(port, '/search'), 200)
    const search = origins.get('search')!
    assert.equal(search[0]!.requests.length + search[1]!.requests.length, 20)

    // assets: weights 3 and 1.
    for (let i = 0; i < 200; i++) assert.equal(await get(port, '/assets'), 200)
    const [big, small] = origins.get('assets')!
    const share = big!.requests.length / 200
    console.log(`balancing.yaml assets, weights 3 / 1: ${big!.requests.length} / ${small!.requests.length}`)
    assert.ok(share > 0.6 && share < 0.9, `big box share ${share}`)
  })
})
