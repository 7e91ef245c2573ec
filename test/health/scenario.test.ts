/**
 * Scenario: three targets under bounded load (6 clients, 900 requests), one
 * killed (its port closed, its connections destroyed) a third of the way in.
 * With retries on, no client sees an error beyond the requests in flight at
 * the kill; passive health ejects the dead target after the configured
 * failures in a row, after which it gets no more tries.
 */
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import http from 'node:http'
import { test } from 'node:test'
import type { UpstreamTryMessage } from '../../src/observe/channels.ts'
import { startFaultOrigin } from '../helpers/fault-origin.ts'
import { startGateway } from '../helpers/gateway.ts'
import { get } from '../helpers/http-get.ts'
import { HealthEvents, healthConfig } from './events.ts'

const CLIENTS = 6
const PER_CLIENT = 150
const FAILURES = 3

test(
  'one of three targets killed under load: ejected within the configured failures, no client error beyond those in flight',
  { timeout: 60_000 },
  async (t) => {
    const events = new HealthEvents(t)
    const origins = await Promise.all(['a', 'b', 'c'].map((name) => startFaultOrigin({ t, name })))
    const dead = origins[2]!
    const gw = await startGateway(
      healthConfig(
        origins.map((o) => o.url),
        { passive: { consecutiveFailures: FAILURES, baseEjectionTime: '60s' } },
        { retries: { attempts: 3 } },
      ),
      { t },
    )
    const tries = { failedOnDead: 0, afterEjection: 0 }
    let ejectedAt = 0
    const onTry = (m: unknown) => {
      const msg = m as UpstreamTryMessage
      if (msg.target !== dead.url) return
      if (msg.code !== undefined || msg.status >= 500) tries.failedOnDead++
      if (ejectedAt > 0) tries.afterEjection++
    }
    diagnostics.subscribe('portcullis:upstream:try', onTry)
    t.after(() => diagnostics.unsubscribe('portcullis:upstream:try', onTry))
    const ejected = events.next(dead.url, 'ejected').then((e) => {
      ejectedAt = performance.now()
      return e
    })

    let done = 0
    let inflight = 0
    let inflightAtKill = -1
    const errors: string[] = []
    let killed: Promise<void> | undefined
    const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS })
    t.after(() => agent.destroy())
    async function client(): Promise<void> {
      for (let i = 0; i < PER_CLIENT; i++) {
        inflight++
        const r = await get(gw.url, {}, { agent }).then(
          (res) => (res.status === 200 ? undefined : `status ${res.status}`),
          (err: Error) => err.message,
        )
        inflight--
        if (r !== undefined) errors.push(r)
        if (++done === (CLIENTS * PER_CLIENT) / 3) {
          inflightAtKill = inflight
          killed = dead.set('refuse')
        }
      }
    }
    await Promise.all(Array.from({ length: CLIENTS }, client))
    await killed
    const e = await ejected
    t.diagnostic(
      `${CLIENTS * PER_CLIENT} requests, ${inflightAtKill} in flight at the kill, ${errors.length} client-visible errors ` +
        `${JSON.stringify(errors)}; ${tries.failedOnDead} failed tries on the dead target; ${tries.afterEjection} tries on it after its ejection`,
    )
    assert.equal(e.reason.startsWith(`${FAILURES} failures in a row`), true)
    assert.ok(errors.length <= inflightAtKill, `${errors.length} errors, ${inflightAtKill} in flight`)
    // Tries already started when it was ejected may still fail; none start after.
    assert.ok(tries.failedOnDead <= FAILURES + CLIENTS, `${tries.failedOnDead} failed tries`)
    const late = tries.afterEjection
    assert.equal((await get(gw.url)).status, 200)
    assert.equal(tries.afterEjection, late)
    assert.ok(origins[0]!.stats.ok > 0 && origins[1]!.stats.ok > 0)
  },
)
