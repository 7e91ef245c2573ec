/**
 * Balancing through a real gateway to real origins on 127.0.0.1, with the
 * measured outcome printed: a target ten times slower loses most of the
 * traffic under least-request and peak-EWMA; consistent hashing moves only
 * the removed target's keys when one of four leaves (a config reload);
 * weights hold for every weighted balancer.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { describe, it, type TestContext } from 'node:test'
import { configSchema, type GatewayConfigInput } from '../../src/config/schema.ts'
import { type OriginHandle, startGateway, startOrigin } from '../helpers/gateway.ts'

/** startOrigins starts one origin per delay (ms before it answers). */
function startOrigins(t: TestContext, delays: readonly number[]): Promise<OriginHandle[]> {
  return Promise.all(
    delays.map((ms) =>
      startOrigin(
        (req, res) => {
          req.resume()
          req.on('end', () => setTimeout(() => res.end('ok'), ms))
        },
        { t },
      ),
    ),
  )
}

function config(origins: readonly OriginHandle[], upstream: Record<string, unknown>, weights?: number[]) {
  return {
    upstreams: {
      origin: { targets: origins.map((o, i) => ({ url: o.url, weight: weights?.[i] ?? 1 })), ...upstream },
    },
    routes: [{ match: {}, upstream: 'origin' }],
  } as GatewayConfigInput
}

/** load sends `n` GETs, `concurrency` at a time over keep-alive connections; `headers(i)` per request. */
async function load(
  url: string,
  n: number,
  concurrency: number,
  headers: (i: number) => Record<string, string> = () => ({}),
): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  let next = 0
  async function worker(): Promise<void> {
    while (next < n) {
      const i = next++
      await new Promise<void>((resolve, reject) => {
        const req = http.get(url, { agent, headers: headers(i) }, (res) => {
          assert.equal(res.statusCode, 200)
          res.resume()
          res.on('end', resolve)
        })
        req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
        req.on('error', reject)
      })
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  agent.destroy()
}

function shares(origins: readonly OriginHandle[]): number[] {
  const total = origins.reduce((s, o) => s + o.requests.length, 0)
  return origins.map((o) => o.requests.length / total)
}

const pct = (xs: number[]) => xs.map((x) => `${(x * 100).toFixed(1)}%`).join(' / ')

describe('balancing through the gateway', () => {
  for (const balance of ['least-request', 'peak-ewma'] as const) {
    it(`${balance}: a target ten times slower gets a small share`, async (t) => {
      const origins = await startOrigins(t, [20, 20, 200])
      // A selectUpstream hook that picks nothing sees the targets (and their latency averages).
      let targets: readonly { latencyMs: number }[] = []
      const hooks = { selectUpstream: (_s: unknown, ts: typeof targets) => void (targets = ts) }
      const gw = await startGateway(config(origins, { balance }), { t, hooks: hooks as never })
      await load(gw.url, 600, 24)
      const s = shares(origins)
      console.log(`${balance}, origins answering in 20 / 20 / 200 ms, 600 requests, 24 at a time: ${pct(s)}`)
      // An even spread would give the slow one 33%.
      assert.ok(s[2]! < 0.2, `slow target's share ${s[2]}`)
      if (balance === 'peak-ewma') {
        const ms = targets.map((x) => x.latencyMs)
        console.log(`peak-ewma averages (Target.latencyMs): ${ms.map((x) => x.toFixed(1)).join(' / ')} ms`)
        assert.ok(ms[2]! > ms[0]! && ms[2]! > ms[1]!)
      }
    })
  }

  it('round-robin, for comparison, gives the slow target its third', async (t) => {
    const origins = await startOrigins(t, [20, 20, 200])
    const gw = await startGateway(config(origins, {}), { t })
    await load(gw.url, 300, 24)
    const s = shares(origins)
    console.log(`round-robin, origins answering in 20 / 20 / 200 ms, 300 requests, 24 at a time: ${pct(s)}`)
    assert.ok(Math.abs(s[2]! - 1 / 3) < 0.05)
  })

  it('consistent-hash: removing one of four targets moves only its keys', async (t) => {
    const origins = await startOrigins(t, [0, 0, 0, 0])
    const users = 400
    const upstream = { balance: 'consistent-hash', hash: { key: 'header:x-user' } }
    const gw = await startGateway(config(origins, upstream), { t })

    /** placement asks once per user and returns the origin each landed on. */
    async function placement(): Promise<number[]> {
      const before = origins.map((o) => o.requests.length)
      const where: number[] = []
      for (let i = 0; i < users; i++) {
        await load(gw.url, 1, 1, () => ({ 'x-user': `user-${i}` }))
        where.push(origins.findIndex((o, k) => o.requests.length > before[k]!))
        before[where[i]!]!++
      }
      return where
    }

    const first = await placement()
    assert.deepEqual(await placement(), first, 'every key is sticky')
    // The operator removes the last target and reloads.
    await gw.gw.reload(
      configSchema.parse({ ...config(origins.slice(0, 3), upstream), listen: [{ address: '127.0.0.1:0' }] }),
    )
    const after = await placement()
    let moved = 0
    let movedFromRemaining = 0
    for (let i = 0; i < users; i++) {
      if (first[i] === after[i]) continue
      moved++
      if (first[i] !== 3) movedFromRemaining++
    }
    const held = first.filter((w) => w === 3).length
    console.log(
      `consistent-hash, 4 targets → 3: ${moved} of ${users} keys moved (${((moved / users) * 100).toFixed(1)}%, 1/N = 25%); the removed target held ${held}; keys of remaining targets moved: ${movedFromRemaining}`,
    )
    assert.equal(movedFromRemaining, 0)
    assert.equal(moved, held)
    assert.ok(Math.abs(moved / users - 0.25) < 0.08)
  })

  for (const balance of ['round-robin', 'random', 'least-request'] as const) {
    it(`${balance}: weights 3 and 1 give 75% and 25%`, async (t) => {
      const origins = await startOrigins(t, [10, 10])
      const gw = await startGateway(config(origins, { balance }, [3, 1]), { t })
      await load(gw.url, 400, 1)
      const s = shares(origins)
      console.log(
        `${balance}, weights 3 / 1, origins answering in 10 ms, 400 requests one at a time: ${pct(s)}`,
      )
      assert.ok(Math.abs(s[0]! - 0.75) < 0.08, `heavy share ${s[0]}`)
    })
  }

  // Peak-EWMA shares by weight ÷ latency, and its average holds a latency
  // peak for about `decay`: on a busy test machine a few stalls decide the
  // split when the decay is long. With a short decay the split follows the
  // weights; with the default it still favours the heavier target.
  for (const decay of ['500ms', '10s']) {
    it(`peak-ewma (decay ${decay}): weights 3 and 1 favour the heavier target`, async (t) => {
      const origins = await startOrigins(t, [10, 10])
      const gw = await startGateway(config(origins, { balance: 'peak-ewma', peakEwma: { decay } }, [3, 1]), {
        t,
      })
      await load(gw.url, 400, 1)
      const s = shares(origins)
      console.log(
        `peak-ewma (decay ${decay}), weights 3 / 1, origins answering in 10 ms, 400 requests one at a time: ${pct(s)}`,
      )
      assert.ok(s[0]! > 0.5, `heavy share ${s[0]}`)
      if (decay === '500ms') assert.ok(Math.abs(s[0]! - 0.75) < 0.12, `heavy share ${s[0]}`)
    })
  }
})
