/**
 * The store side of a concurrency limit shared by workers (`shared`) or
 * instances (`redis`): one key per route holding, per holder (a worker's
 * SharedSlots), how many slots it has and until when that claim lives.
 *
 * Every call states the caller's own count (absolute, so a lost or repeated
 * message cannot skew the sum), asks for up to `want` more, and renews the
 * caller's claim. A holder not heard from for `ttl` (a worker that died with
 * slots) is dropped, and its slots are free again. Like a rate-limit lease,
 * a grant is never more than a quarter of what is free, so workers share
 * the last slots one at a time.
 *
 * ARGV: [holder id, held, want, max, ttl ms]. Replies `[granted, in use in all]`.
 */
import type { UpdateScript } from '../../store/store.ts'

export const slotsScript: UpdateScript<readonly [number, number]> = {
  name: 'portcullis.concurrency.slots.v1',
  lua: `
local id, held, want, max, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local v = redis.call('GET', KEYS[1])
local holders = v and cjson.decode(v) or {}
local kept, any, out = {}, false, held
for k, h in pairs(holders) do
  if k ~= id and h[2] >= now then kept[k] = h any = true out = out + h[1] end
end
local g = 0
if want > 0 and out < max then g = math.min(want, math.max(1, math.floor((max - out) / 4))) end
if held + g > 0 then kept[id] = {held + g, now + ttl} any = true end
if any then redis.call('SET', KEYS[1], cjson.encode(kept), 'PX', ttl) else redis.call('DEL', KEYS[1]) end
return {g, out + g}`,
  run: function slots(current, args, now) {
    const id = args[0]!
    const [held, want, max, ttl] = [Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4])]
    const holders: Record<string, [number, number]> = current === undefined ? {} : JSON.parse(current)
    const kept: Record<string, [number, number]> = {}
    let out = held
    for (const [k, h] of Object.entries(holders))
      if (k !== id && h[1] >= now) {
        kept[k] = h
        out += h[0]
      }
    const g = want > 0 && out < max ? Math.min(want, Math.max(1, Math.floor((max - out) / 4))) : 0
    if (held + g > 0) kept[id] = [held + g, now + ttl]
    const reply = [g, out + g] as const
    if (Object.keys(kept).length === 0) return { value: null, reply }
    return { value: JSON.stringify(kept), ttlMs: ttl, reply }
  },
}
