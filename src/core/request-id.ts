/**
 * Request ids are UUIDv7 (RFC 9562 §5.7): the first 48 bits are the Unix
 * time in milliseconds, so ids sort by time in logs, and the rest is random.
 * Within one millisecond the low 48 random bits are incremented instead of
 * drawn again (§6.2, method 2, "monotonic random"): ids stay unique and
 * ordered, and the hot path costs one counter and one concatenation rather
 * than 16 fresh random bytes formatted per request.
 */
import { randomFillSync } from 'node:crypto'
import { wallTime } from './clock.ts'

const random = Buffer.alloc(4096)
let randomAt = random.length

/** nextRandom returns `bytes` (≤ 6) fresh random bytes as an unsigned integer. */
function nextRandom(bytes: number): number {
  if (randomAt + bytes > random.length) {
    randomFillSync(random)
    randomAt = 0
  }
  const n = random.readUIntBE(randomAt, bytes)
  randomAt += bytes
  return n
}

let lastMs = -1
/** `xxxxxxxx-xxxx-7xxx-Vxxx-` for lastMs, with fresh random bits. */
let prefix = ''
/** The low 48 bits, incremented per id within lastMs: 24 high bits (kept as hex) and 24 low. */
let highHex = ''
let low = 0

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

function hex(n: number, digits: number): string {
  return n.toString(16).padStart(digits, '0')
}

/**
 * newRequestId returns a new UUIDv7 string, lowercase, 8-4-4-4-12.
 * `now` is a `performance.now()` reading the caller already has (the request's start).
 */
export function newRequestId(now: number): string {
  const ms = wallTime(now)
  // A wall clock stepped back keeps the last prefix: ids stay unique and ordered.
  if (ms > lastMs) {
    lastMs = ms
    const t = hex(ms, 12)
    // rand_a (12 bits) after the version; the variant 0b10 then 14 random bits.
    const randA = nextRandom(2) & 0xfff
    const randB = 0x8000 | (nextRandom(2) & 0x3fff)
    prefix = `${t.slice(0, 8)}-${t.slice(8)}-7${hex(randA, 3)}-${hex(randB, 4)}-`
    // The top bit stays clear so that a millisecond's increments cannot overflow 48 bits.
    highHex = hex(nextRandom(3) & 0x7fffff, 6)
    low = nextRandom(3)
  } else if (++low === 0x1000000) {
    low = 0
    highHex = hex(Number.parseInt(highHex, 16) + 1, 6)
  }
  return prefix + highHex + HEX[low >>> 16]! + HEX[(low >>> 8) & 255]! + HEX[low & 255]!
}
