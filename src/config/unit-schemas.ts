/**
 * The zod schemas of the configuration's units, shared by every section and
 * module schema: a duration (`250ms`, `5s`, `2m`; a bare number is
 * milliseconds) comes out in milliseconds, a size (`64kb`, `10mb`; a bare
 * number is bytes) in bytes. An invalid value is one issue with an example.
 */
import { z } from 'zod'
import { parseDuration, parseSize } from './units.ts'

/** A duration, validated to milliseconds. */
export const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = parseDuration(v)
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid duration ${JSON.stringify(v)} (use e.g. 250ms, 5s, 2m)`,
    })
    return z.NEVER
  }
  return ms
})

/** A size, validated to bytes. */
export const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const bytes = parseSize(v)
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid size ${JSON.stringify(v)} (use e.g. 64kb, 10mb)` })
    return z.NEVER
  }
  return bytes
})
