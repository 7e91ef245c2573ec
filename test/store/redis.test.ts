/**
 * The redis store passes the conformance suite on a real redis-server, with
 * two stores (two connections, as two instances would have) on one server.
 */
import { after, before } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { RedisStore } from '../../src/store/redis.ts'
import { redisSkip, startRedisServer, type RedisServer } from '../helpers/redis-server.ts'
import { storeConformance } from './conformance.ts'

const skip = redisSkip()
let server: RedisServer | undefined

if (skip === undefined) {
  before(async () => {
    server = await startRedisServer()
  })
  after(() => server?.stop())
}

storeConformance(
  'redis',
  async (t) => {
    const a = new RedisStore({ url: server!.url })
    const b = new RedisStore({ url: server!.url })
    t.after(async () => {
      await a.close()
      await b.close()
    })
    await Promise.all([a.connect(), b.connect()])
    return { a, b, pass: (ms) => sleep(ms) }
  },
  { skip },
)
