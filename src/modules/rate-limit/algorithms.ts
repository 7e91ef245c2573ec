/**
 * The rate-limit decisions, each one atomic update of one store key (one
 * Redis round trip, a Lua script; the same decision in JavaScript for the
 * memory and shared stores). The clock is the store's (Redis `TIME`, the
 * shared store's host), so every gateway sharing a store agrees on time.
 *
 * A decision may be for one request or, for a worker's lease (leases.ts),
 * for up to `want` at once: exactly what as many single decisions would
 * allow, but never more than a quarter of what the limit has left, so a
 * limit close to its end is decided one request at a time. Each algorithm
 * has a give-back script for the unspent part of a lease.
 *
 * Replies `[granted, remaining, retryAfterMs, resetMs, validMs, mark]`:
 * granted 0 is a denial (a single decision's `allowed`); remaining is what
 * may still pass now, retryAfterMs when a denied request could pass,
 * resetMs when the limit is full again; then how long a lease may be spent
 * (the window's end for the sliding window) and the mark a give-back needs
 * to know the state the lease was taken from is still the current one.
 * Fractions travel as strings (Redis truncates Lua numbers to integers).
 */
import type { UpdateScript } from '../../store/store.ts'

/** `[granted, remaining, retryAfterMs, resetMs, validMs, mark]` (see above). */
export type LeaseReply = readonly [number, number, string, string, number, string]

/** A decision: `[allowed 0|1, remaining, retryAfterMs, resetMs]`, and what a lease adds. */
export type Decision = readonly [number, number, string, string, ...(number | string)[]]

/**
 * GCRA (the generic cell rate algorithm, a token bucket kept as one time).
 * The key holds `tat:since`: the theoretical arrival time (TAT) of the next
 * request, and when the bucket was last full (the TAT had fallen behind the
 * clock). A request is allowed when, after it, the TAT is at most burst·T
 * ahead of now; the TAT then moves on by T, and a lease of n by n·T at once.
 * ARGV: [emission interval T = period / N in ms, burst, want = 1, validMs = 0].
 * Exact for any number of gateways on the same key.
 *
 * Giving back is exact only while the bucket has not been full since the
 * lease: TATs then only add up, so taking the unused n·T off is the state
 * as if they had never been leased. Once it was full, the refill has already
 * absorbed them, and `since` (the mark) has changed: the give-back is ignored.
 */
export const gcra: UpdateScript<LeaseReply> = {
  name: 'portcullis.rateLimit.gcra.v2',
  lua: `
local t = tonumber(ARGV[1])
local span = t * tonumber(ARGV[2])
local want = tonumber(ARGV[3]) or 1
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
return {n, math.floor((span - (nxt - now)) / t + 0.000001), '0', tostring(life), tonumber(ARGV[4]) or 0, since}`,
  run: function gcra(current, args, now) {
    const t = Number(args[0])
    const span = t * Number(args[1])
    const want = Number(args[2] ?? 1)
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
      reply: [n, remaining, '0', String(life), Number(args[3] ?? 0), since],
    }
  },
}

/** Gives back `unused` GCRA leases taken at mark `since`. ARGV: [T, unused, since]. Replies 1 when applied. */
export const gcraGiveBack: UpdateScript<number> = {
  name: 'portcullis.rateLimit.gcraGiveBack.v2',
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
 * The sliding-window counter: counts in fixed windows, and estimates the
 * last `period` as this window's count plus the previous window's weighted
 * by how much of it still overlaps (as Cloudflare and nginx-plus do). The
 * key holds `windowStart:previous:current`. A lease of n is counted in this
 * window at once and valid only until the window ends, so every leased
 * request passes in the window that counted it; the mark is the window's
 * start. ARGV: [period ms, limit, want = 1, validMs = 0].
 */
export const slidingWindow: UpdateScript<LeaseReply> = {
  name: 'portcullis.rateLimit.slidingWindow.v2',
  lua: `
local w = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local want = tonumber(ARGV[3]) or 1
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
local valid = math.min(tonumber(ARGV[4]) or 0, start + w - exact)
return {n, math.floor(limit - estimate - n + 0.000001), '0', tostring(w - elapsed), valid, tostring(start)}`,
  run: function slidingWindow(current, args, now) {
    const w = Number(args[0])
    const limit = Number(args[1])
    const want = Number(args[2] ?? 1)
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
    const valid = Math.min(Number(args[3] ?? 0), start + w - now)
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
  name: 'portcullis.rateLimit.slidingWindowGiveBack.v2',
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
