/**
 * The redis store against a real redis-server that goes away: two processes
 * count exactly; a stopped server fails operations at once with
 * STORE_UNAVAILABLE, a frozen one within the operation timeout with
 * STORE_TIMEOUT, and the store recovers by itself when the server is back.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import diagnostics from 'node:diagnostics_channel'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { storeErrorChannel, type StoreErrorMessage } from '../../src/store/channels.ts'
import { StoreError } from '../../src/store/errors.ts'
import { RedisStore } from '../../src/store/redis.ts'
import { redisSkip, startRedisServer, type RedisServer } from '../helpers/redis-server.ts'

const run = promisify(execFile)
const NODE = process.execPath
const CHILD = new URL('./fixtures/redis-incr.ts', import.meta.url).pathname

function isCode(code: string) {
  return (e: unknown) => e instanceof StoreError && e.code === code
}

describe('RedisStore on a real redis-server', { skip: redisSkip() }, () => {
  let server: RedisServer
  before(async () => {
    server = await startRedisServer()
  })
  after(() => server.stop())

  it('2 processes x 50 loops: 100,000 increments end at exactly 100,000', { timeout: 60_000 }, async (t) => {
    const key = `exact:${process.pid}`
    const started = performance.now()
    const outputs = await Promise.all(
      [0, 1].map(() => run(NODE, [CHILD, server.url, key, '50', '1000'], { timeout: 55_000 })),
    )
    const ms = performance.now() - started
    const store = new RedisStore({ url: server.url })
    t.after(() => store.close())
    await store.connect()
    assert.equal(await store.get(key), '100000')
    assert.equal(Math.max(...outputs.map((o) => Number(o.stdout))), 100_000)
    t.diagnostic(`100,000 increments from 2 processes in ${ms.toFixed(0)} ms (process start included)`)
  })

  it(
    'fails fast while redis is down, reports it, and recovers on the same port',
    { timeout: 20_000 },
    async (t) => {
      const store = new RedisStore({
        url: server.url,
        operationTimeoutMs: 200,
        reconnect: { maxDelayMs: 200 },
      })
      t.after(() => store.close())
      assert.equal(await store.connect(), true)
      assert.equal(await store.incr('down'), 1)
      const reported: StoreErrorMessage[] = []
      const listen = (m: unknown) => reported.push(m as StoreErrorMessage)
      diagnostics.subscribe(storeErrorChannel.name, listen)
      t.after(() => diagnostics.unsubscribe(storeErrorChannel.name, listen))

      await server.stop()
      const started = performance.now()
      // The first operation may be the one that finds the connection gone.
      await assert.rejects(store.incr('down'), isCode('STORE_UNAVAILABLE'))
      await assert.rejects(store.get('down'), isCode('STORE_UNAVAILABLE'))
      const took = performance.now() - started
      assert.ok(took < 200, `failed within the timeout: ${took.toFixed(1)} ms`)
      assert.ok(reported.some((m) => m.code === 'STORE_UNAVAILABLE' && m.operation === 'get'))

      await server.start()
      let value: number | undefined
      for (let i = 0; i < 100 && value === undefined; i++) {
        value = await store.incr('down').catch(() => undefined)
        if (value === undefined) await new Promise((r) => setTimeout(r, 50))
      }
      // The new server started empty (no persistence): counting starts over.
      assert.equal(value, 1)
    },
  )

  it(
    'subscriptions survive a restart of redis (resubscribed on reconnect)',
    { timeout: 20_000 },
    async (t) => {
      const opts = { url: server.url, reconnect: { maxDelayMs: 100 } }
      const [sub, pub] = [new RedisStore(opts), new RedisStore(opts)]
      t.after(() => Promise.all([sub.close(), pub.close()]))
      const heard: string[] = []
      await sub.subscribe('inval', (m) => heard.push(m))
      await server.stop()
      await server.start()
      for (let i = 0; i < 100 && heard.length === 0; i++) {
        await pub.publish('inval', `try ${i}`).catch(() => {})
        await new Promise((r) => setTimeout(r, 50))
      }
      assert.ok(heard.length > 0, 'a publish after the restart reached the old subscription')
    },
  )

  it(
    'a frozen redis fails operations with STORE_TIMEOUT within the operation timeout',
    { timeout: 20_000 },
    async (t) => {
      const store = new RedisStore({ url: server.url, operationTimeoutMs: 150 })
      t.after(() => store.close())
      assert.equal(await store.connect(), true)
      await store.set('frozen', 'v')
      server.pause()
      t.after(() => server.resume())
      const started = performance.now()
      await assert.rejects(store.get('frozen'), isCode('STORE_TIMEOUT'))
      const took = performance.now() - started
      assert.ok(took >= 140 && took < 400, `timed out after ${took.toFixed(0)} ms`)
      server.resume()
      let value: string | undefined
      for (let i = 0; i < 40 && value === undefined; i++)
        value = await store.get('frozen').catch(() => undefined)
      assert.equal(value, 'v')
    },
  )

  it(
    'a store created while redis is unreachable fails fast, then works once it is up',
    { timeout: 20_000 },
    async (t) => {
      await server.stop()
      const store = new RedisStore({
        url: server.url,
        operationTimeoutMs: 200,
        reconnect: { maxDelayMs: 100 },
      })
      t.after(() => store.close())
      assert.equal(await store.connect(300), false)
      const started = performance.now()
      await assert.rejects(store.get('x'), isCode('STORE_UNAVAILABLE'))
      assert.ok(performance.now() - started < 200)
      await server.start()
      assert.equal(await store.connect(5000), true)
      assert.equal(await store.set('x', 'y'), true)
    },
  )
})
