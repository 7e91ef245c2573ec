/**
 * Lease scripts: one atomic store update that takes up to `want` decisions
 * of a limit at once, and one that gives the unused ones back (leases.ts
 * explains when and why a worker leases). Each takes exactly what the
 * single-decision scripts of algorithms.ts would allow, so a lease of one is
 * the same decision; the difference is only who spends the tokens, and when.
 *
 * A lease never takes more than a quarter of what the limit has left, so a
 * limit close to its end is decided one request at a time, as without
 * leases.
 *
 * Replies `[granted, remaining, retryAfterMs, resetMs, validMs, mark]`:
 * the first four as a Decision (granted 0 is a denial), then how long the
 * worker may spend the lease (the window's end for the sliding window), and
 * the mark `give back` needs to know the state the lease was taken from is
 * still the current one.
 */
import type { UpdateScript } from '../../store/store.ts'

/** `[granted, remaining, retryAfterMs, resetMs, validMs, mark]`. */
export type LeaseReply = readonly [number, number, string, string, number, string]

/**
 * GCRA, leased. The key holds `tat:since`: the theoretical arrival time as
 * in `gcra`, and when the bucket was last full (the TAT caught up with the
 * clock). A lease of n moves the TAT n emission intervals on at once.
 * ARGV: [T, burst, want, validMs].
 *
 * Giving back is exact only while the bucket has not been full since the
 * lease: TATs then only add up, so taking the unused n·T off is the state
 * as if they had never been leased. Once it was full, the refill has already
 * absorbed them, and `since` (the mark) has changed: the give-back is ignored.
 */
export const gcraLease: UpdateScript<LeaseReply> = {
  name: 'portcullis.rateLimit.gcraLease.v1',
  lua: `
local t = tonumber(ARGV[1])
local span = t * tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local v = redis.call('GET', KEYS[1])
local cur, since = 0, ''
if v then
  local a, b = string.match(v, '^([^:]+):?(.*)$')
  cur, since = tonumber(a) or 0, b
end
local tat = cur
if cur < now then tat, since = now, string.format('%.17g', now) end
local over = tat + t - now - span
if over > 0.000001 then
  return {0, 0, tostring(math.ceil(over)), tostring(math.ceil(tat - now)), 0, ''}
end
local avail = math.floor((span - (tat - now)) / t + 0.000001)
local n = math.min(want, math.max(1, math.floor(avail / 4)))
local nxt = tat + n * t
local life = math.max(1, math.ceil(nxt - now))
redis.call('SET', KEYS[1], string.format('%.17g', nxt) .. ':' .. since, 'PX', life)
return {n, math.floor((span - (nxt - now)) / t + 0.000001), '0', tostring(life), tonumber(ARGV[4]), since}`,
  run: function gcraLease(current, args, now) {
    const t = Number(args[0])
    const span = t * Number(args[1])
    const want = Number(args[2])
    const colon = current === undefined ? -1 : current.indexOf(':')
    const cur = current === undefined ? 0 : Number(colon === -1 ? current : current.slice(0, colon))
    let since = colon === -1 ? '' : current!.slice(colon + 1)
    let tat = cur
    if (!(cur >= now)) {
      tat = now
      since = String(now)
    }
    const over = tat + t - now - span
    if (over > 0.000001)
      return { reply: [0, 0, String(Math.ceil(over)), String(Math.ceil(tat - now)), 0, ''] }
    const avail = Math.floor((span - (tat - now)) / t + 0.000001)
    const n = Math.min(want, Math.max(1, Math.floor(avail / 4)))
    const next = tat + n * t
    const life = Math.max(1, Math.ceil(next - now))
    const remaining = Math.floor((span - (next - now)) / t + 0.000001)
    return {
      value: `${next}:${since}`,
      ttlMs: life,
      reply: [n, remaining, '0', String(life), Number(args[3]), since],
    }
  },
}

/** Gives back `unused` GCRA leases taken at mark `since`. ARGV: [T, unused, since]. Replies 1 when applied. */
export const gcraGiveBack: UpdateScript<number> = {
  name: 'portcullis.rateLimit.gcraGiveBack.v1',
  lua: `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local a, since = string.match(v, '^([^:]+):(.*)$')
if since ~= ARGV[3] then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local nxt = tonumber(a) - tonumber(ARGV[1]) * tonumber(ARGV[2])
if nxt <= now then redis.call('DEL', KEYS[1]) return 1 end
redis.call('SET', KEYS[1], string.format('%.17g', nxt) .. ':' .. since, 'PX', math.max(1, math.ceil(nxt - now)))
return 1`,
  run: function gcraGiveBack(current, args, now) {
    const colon = current === undefined ? -1 : current.indexOf(':')
    if (colon === -1 || current!.slice(colon + 1) !== args[2]) return { reply: 0 }
    const next = Number(current!.slice(0, colon)) - Number(args[0]) * Number(args[1])
    // Full again: the key goes, as the single-decision script lets it expire.
    if (!(next > now)) return { value: null, reply: 1 }
    return { value: `${next}:${args[2]}`, ttlMs: Math.max(1, Math.ceil(next - now)), reply: 1 }
  },
}

/**
 * The sliding-window counter, leased: n counted in this window at once.
 * The lease is valid only until the window ends, so every leased request
 * passes in the window that counted it. ARGV: [period ms, limit, want, validMs].
 * The mark is the window's start.
 */
export const slidingWindowLease: UpdateScript<LeaseReply> = {
  name: 'portcullis.rateLimit.slidingWindowLease.v1',
  lua: `
local w = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local clock = redis.call('TIME')
local exact = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local now = math.floor(exact)
local start = now - (now % w)
local prev, cur = 0, 0
local v = redis.call('GET', KEYS[1])
if v then
  local s, p, c = string.match(v, '^(%d+):(%d+):(%d+)$')
  s, p, c = tonumber(s), tonumber(p), tonumber(c)
  if s == start then prev, cur = p, c elseif s == start - w then prev = c end
end
local elapsed = now - start
local estimate = prev * (w - elapsed) / w + cur
if estimate + 1 > limit + 0.000001 then
  local retry = w - elapsed
  if cur + 1 <= limit and prev > 0 then retry = math.ceil(w * (1 - (limit - 1 - cur) / prev)) - elapsed end
  return {0, 0, tostring(math.max(retry, 1)), tostring(w - elapsed), 0, ''}
end
local n = math.min(want, math.max(1, math.floor(math.floor(limit - estimate + 0.000001) / 4)))
redis.call('SET', KEYS[1], start .. ':' .. prev .. ':' .. (cur + n), 'PX', 2 * w - elapsed)
local valid = math.min(tonumber(ARGV[4]), start + w - exact)
return {n, math.floor(limit - estimate - n + 0.000001), '0', tostring(w - elapsed), valid, tostring(start)}`,
  run: function slidingWindowLease(current, args, now) {
    const w = Number(args[0])
    const limit = Number(args[1])
    const want = Number(args[2])
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
      return { reply: [0, 0, String(Math.max(retry, 1)), String(w - elapsed), 0, ''] }
    }
    const n = Math.min(want, Math.max(1, Math.floor(Math.floor(limit - estimate + 0.000001) / 4)))
    const remaining = Math.floor(limit - estimate - n + 0.000001)
    // Until the window's end on the store's clock, not the ms it was rounded to.
    const valid = Math.min(Number(args[3]), start + w - now)
    return {
      value: `${start}:${prev}:${cur + n}`,
      ttlMs: 2 * w - elapsed,
      reply: [n, remaining, '0', String(w - elapsed), valid, String(start)],
    }
  },
}

/**
 * Gives back `unused` sliding-window leases counted in the window starting
 * at `start`: off that window's count, whether it is still the current
 * window or has become the previous one. ARGV: [period ms, unused, start].
 */
export const slidingWindowGiveBack: UpdateScript<number> = {
  name: 'portcullis.rateLimit.slidingWindowGiveBack.v1',
  lua: `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local s, p, c = string.match(v, '^(%d+):(%d+):(%d+)$')
s, p, c = tonumber(s), tonumber(p), tonumber(c)
local start, u = tonumber(ARGV[3]), tonumber(ARGV[2])
if not start then return 0 end
if s == start then c = math.max(0, c - u)
elseif s == start + tonumber(ARGV[1]) then p = math.max(0, p - u)
else return 0 end
redis.call('SET', KEYS[1], s .. ':' .. p .. ':' .. c, 'KEEPTTL')
return 1`,
  run: function slidingWindowGiveBack(current, args) {
    const m = current === undefined ? null : /^(\d+):(\d+):(\d+)$/.exec(current)
    if (m === null) return { reply: 0 }
    const [s, u, start] = [Number(m[1]), Number(args[1]), Number(args[2])]
    let [p, c] = [Number(m[2]), Number(m[3])]
    if (s === start) c = Math.max(0, c - u)
    else if (s === start + Number(args[0])) p = Math.max(0, p - u)
    else return { reply: 0 }
    return { value: `${s}:${p}:${c}`, reply: 1 }
  },
}
