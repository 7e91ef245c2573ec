/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as tracing needs
 * it: reading a `traceparent`, making ids, and the sampling decision.
 */
import { randomFillSync } from 'node:crypto'

/** What a valid incoming traceparent says. */
export interface ParentContext {
  traceId: string
  /** The caller's span: the parent of ours. */
  spanId: string
  sampled: boolean
}

const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-|$)/
const ZERO_TRACE = '00000000000000000000000000000000'
const ZERO_SPAN = '0000000000000000'

/**
 * parseTraceparent returns the parent a traceparent names, or undefined when
 * it is invalid (Trace Context §3.2: version ff, all-zero ids, a version 00
 * value with more after it). A later version may carry more fields (§3.2.4).
 */
export function parseTraceparent(value: string | undefined): ParentContext | undefined {
  if (value === undefined) return undefined
  const m = TRACEPARENT_RE.exec(value)
  if (m === null) return undefined
  const [, version, traceId, spanId, flags, rest] = m as unknown as string[]
  if (version === 'ff' || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined
  if (version === '00' && rest !== '') return undefined
  return { traceId: traceId!, spanId: spanId!, sampled: (parseInt(flags!, 16) & 1) === 1 }
}

/** findTraceparent returns the value of the `traceparent` field in a flat raw header list. */
export function findTraceparent(raw: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length === 11 && name.toLowerCase() === 'traceparent') return raw[i + 1]
  }
  return undefined
}

// Ids come from a pool of random bytes filled 4 KB at a time: one
// randomFillSync per 256 spans instead of one randomBytes per id.
const pool = Buffer.alloc(4096)
let offset = pool.length

function randomHex(bytes: number): string {
  for (;;) {
    if (offset + bytes > pool.length) {
      randomFillSync(pool)
      offset = 0
    }
    const hex = pool.toString('hex', offset, offset + bytes)
    offset += bytes
    // All zeros is the invalid id (§3.2.2.3, §3.2.2.4); a 2^-64 chance, still checked.
    if (hex !== ZERO_SPAN && hex !== ZERO_TRACE) return hex
  }
}

/** newTraceId returns 16 random bytes as 32 lowercase hex digits. */
export function newTraceId(): string {
  return randomHex(16)
}

/** newSpanId returns 8 random bytes as 16 lowercase hex digits. */
export function newSpanId(): string {
  return randomHex(8)
}

/**
 * ratioSampled decides from the trace id itself, as OpenTelemetry's
 * TraceIdRatioBased sampler does, so every service sampling at the same
 * ratio keeps the same traces: the last 14 hex digits (56 bits, random
 * under Trace Context level 2) read as a fraction, below the ratio.
 */
export function ratioSampled(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true
  if (ratio <= 0) return false
  return parseInt(traceId.slice(18), 16) / 2 ** 56 < ratio
}
