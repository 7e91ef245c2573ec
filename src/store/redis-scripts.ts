/**
 * Lua for the Store operations Redis has no single command for, and the
 * EVALSHA-first way every script runs: one round trip when the server has
 * the script cached (always, after the first call), two the first time.
 */
import { createHash } from 'node:crypto'
import type { RedisConnection } from './redis-options.ts'

/** A Lua script and its SHA-1, the name EVALSHA calls it by. */
export interface LuaScript {
  readonly lua: string
  readonly sha: string
}

/** lua wraps source text with its SHA-1. */
export function lua(source: string): LuaScript {
  return { lua: source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * INCRBY, then an expiry when the key has none (PTTL -1): the fixed-window
 * counter's "increment, expire on first increment, return the new value".
 * ARGV: by, ttlMs.
 */
export const INCR_WITH_TTL = lua(`
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return v`)

/**
 * Set to ARGV[2] only when the value is ARGV[1] (or, with ARGV[3] = '1',
 * only when absent); ARGV[4] is the expiry in ms or ''. Replies 1 or 0.
 */
export const COMPARE_AND_SET = lua(`
local cur = redis.call('GET', KEYS[1])
if ARGV[3] == '1' then
  if cur then return 0 end
elseif cur ~= ARGV[1] then
  return 0
end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1`)

/**
 * evalScript runs `script` on `key` by SHA, and by source when the server
 * does not have it (NOSCRIPT: first use, a restart, SCRIPT FLUSH, a
 * failover to a replica that never saw it).
 */
export async function evalScript(
  conn: RedisConnection,
  script: LuaScript,
  key: string,
  args: string[],
): Promise<unknown> {
  const options = { keys: [key], arguments: args }
  try {
    return await conn.evalSha(script.sha, options)
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
    return conn.eval(script.lua, options)
  }
}
