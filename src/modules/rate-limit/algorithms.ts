/**
 * The rate-limit decisions, each one atomic update of one store key (one
 * Redis round trip, a Lua script; the same decision in JavaScript for the
 * memory and shared stores). The clock is the store's (Redis `TIME`, the
 * shared store's host), so every gateway sharing a store agrees on time.
 *
 * Every script replies `[allowed 0|1, remaining, retryAfterMs, resetMs]`:
 * remaining is what may still pass now, retryAfterMs when a denied request
 * could pass, resetMs when the limit is full again. Fractions travel as
 * strings (Redis truncates Lua numbers to integers).
 */
import type { UpdateScript } from '../../store/store.ts'

/** `[allowed, remaining, retryAfterMs, resetMs]`. */
export type Decision = readonly [number, number, string, string]

/**
 * GCRA (the generic cell rate algorithm, a token bucket kept as one time):
 * the key holds the theoretical arrival time (TAT) of the next request.
 * ARGV: [emission interval T = period / N in ms, burst B]. A request is
 * allowed when, after it, the TAT is at most B·T ahead of now; the TAT then
 * moves on by T. Exact for any number of gateways on the same key.
 */
export const gcra: UpdateScript<Decision> = {
  name: 'portcullis.rateLimit.gcra.v1',
  lua: `
local t = tonumber(ARGV[1])
local span = t * tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local tat = math.max(cur, now)
local nxt = tat + t
local over = nxt - now - span
if over > 0.000001 then
  return {0, 0, tostring(math.ceil(over)), tostring(math.ceil(tat - now))}
end
local life = math.max(1, math.ceil(nxt - now))
redis.call('SET', KEYS[1], string.format('%.17g', nxt), 'PX', life)
return {1, math.floor((span - (nxt - now)) / t + 0.000001), '0', tostring(life)}`,
  run: function gcra(current, args, now) {
    const t = Number(args[0])
    const span = t * Number(args[1])
    const tat = Math.max(parseFloat(current ?? '0'), now)
    const next = tat + t
    const over = next - now - span
    if (over > 0.000001) return { reply: [0, 0, String(Math.ceil(over)), String(Math.ceil(tat - now))] }
    // At least 1 ms: at very high rates T is below the clock's resolution and the TAT does not move.
    const life = Math.max(1, Math.ceil(next - now))
    const remaining = Math.floor((span - (next - now)) / t + 0.000001)
    return { value: String(next), ttlMs: life, reply: [1, remaining, '0', String(life)] }
  },
}

/**
 * The sliding-window counter: counts in fixed windows, and estimates the
 * last `period` as this window's count plus the previous window's weighted
 * by how much of it still overlaps (as Cloudflare and nginx-plus do). The
 * key holds `windowStart:previous:current`. ARGV: [period ms, limit].
 */
export const slidingWindow: UpdateScript<Decision> = {
  name: 'portcullis.rateLimit.slidingWindow.v1',
  lua: `
local w = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local start = now - (now % w)
local prev, cur = 0, 0
local v = redis.call('GET', KEYS[1])
if v then
  local s, p, c = string.match(v, '^(%d+):(%d+):(%d+)$')
  s, p, c = tonumber(s), tonumber(p), tonumber(c)
  if s == start then prev, cur = p, c elseif s == start - w then prev = c end
end
local elapsed = now - start
local weight = (w - elapsed) / w
local estimate = prev * weight + cur
if estimate + 1 > limit + 0.000001 then
  local retry = w - elapsed
  if cur + 1 <= limit and prev > 0 then retry = math.ceil(w * (1 - (limit - 1 - cur) / prev)) - elapsed end
  return {0, 0, tostring(math.max(retry, 1)), tostring(w - elapsed)}
end
redis.call('SET', KEYS[1], start .. ':' .. prev .. ':' .. (cur + 1), 'PX', 2 * w - elapsed)
return {1, math.floor(limit - estimate - 1 + 0.000001), '0', tostring(w - elapsed)}`,
  run: function slidingWindow(current, args, now) {
    const w = Number(args[0])
    const limit = Number(args[1])
    const ms = Math.floor(now)
    const start = ms - (ms % w)
    let prev = 0
    let cur = 0
    const m = current === undefined ? null : /^(\d+):(\d+):(\d+)$/.exec(current)
    if (m !== null && Number(m[1]) === start) [prev, cur] = [Number(m[2]), Number(m[3])]
    else if (m !== null && Number(m[1]) === start - w) prev = Number(m[3])
    const elapsed = ms - start
    const estimate = (prev * (w - elapsed)) / w + cur
    if (estimate + 1 > limit + 0.000001) {
      let retry = w - elapsed
      if (cur + 1 <= limit && prev > 0) retry = Math.ceil(w * (1 - (limit - 1 - cur) / prev)) - elapsed
      return { reply: [0, 0, String(Math.max(retry, 1)), String(w - elapsed)] }
    }
    const value = `${start}:${prev}:${cur + 1}`
    const remaining = Math.floor(limit - estimate - 1 + 0.000001)
    return { value, ttlMs: 2 * w - elapsed, reply: [1, remaining, '0', String(w - elapsed)] }
  },
}
