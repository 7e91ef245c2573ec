/**
 * Update scripts the conformance suite runs on every store: each is written
 * in Lua and in JavaScript, and the suite checks that they agree.
 */
import type { UpdateScript } from '../../src/store/store.ts'

/**
 * takeUpTo: add one to the counter at KEYS[1] while it is below ARGV[1],
 * (re)setting its expiry to ARGV[2] ms; reply [taken 0|1, counter]. The
 * shape of a bounded-concurrency or fixed-window decision.
 */
export const takeUpTo: UpdateScript<[number, number]> = {
  name: 'test.takeUpTo',
  lua: `
local limit = tonumber(ARGV[1])
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v < limit then
  v = v + 1
  redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
  return {1, v}
end
return {0, v}`,
  run: (current, args) => {
    const v = Number(current ?? '0')
    if (v < Number(args[0])) return { value: String(v + 1), ttlMs: Number(args[1]), reply: [1, v + 1] }
    return { reply: [0, v] }
  },
}

/** appendKeep: append ARGV[1] to the value, keeping its expiry; reply the new value. */
export const appendKeep: UpdateScript<string> = {
  name: 'test.appendKeep',
  lua: `
local v = (redis.call('GET', KEYS[1]) or '') .. ARGV[1]
redis.call('SET', KEYS[1], v, 'KEEPTTL')
return v`,
  run: function appendKeep(current, args) {
    const v = (current ?? '') + args[0]
    return { value: v, reply: v }
  },
}

/** takeAll: delete the key; reply its old value, or null when absent. */
export const takeAll: UpdateScript<string | null> = {
  name: 'test.takeAll',
  lua: `
local v = redis.call('GET', KEYS[1])
if not v then return nil end
redis.call('DEL', KEYS[1])
return v`,
  run(current) {
    return current === undefined ? { reply: null } : { value: null, reply: current }
  },
}

/** failing: a script that fails on every store. */
export const failing: UpdateScript<null> = {
  name: 'test.failing',
  lua: `return redis.error_reply('boom')`,
  run: () => {
    throw new Error('boom')
  },
}
