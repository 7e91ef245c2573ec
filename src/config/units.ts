/**
 * Parsing of the human units the configuration accepts: durations (`250ms`,
 * `5s`, `2m`, `1h`) and sizes (`512b`, `64kb`, `10mb`, `1gb`). A bare number
 * is milliseconds or bytes. Sizes are binary (1kb = 1024 bytes), as in nginx.
 */

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)$/i

const DURATION_FACTOR: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const SIZE_FACTOR: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
}

/** parseDuration returns milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined
  const m = DURATION_RE.exec(text.trim())
  if (!m) return undefined
  return Math.round(Number(m[1]) * DURATION_FACTOR[m[2]!]!)
}

/** parseSize returns bytes, or undefined when `text` is not a size. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined
  const m = SIZE_RE.exec(text.trim())
  if (!m) return undefined
  return Math.round(Number(m[1]) * SIZE_FACTOR[m[2]!.toLowerCase()]!)
}
