/**
 * The schema of a route's `concurrency` (docs/configuration.md,
 * "Concurrency limits").
 */
import { z } from 'zod'
import { parseDuration } from '../units.ts'

export const concurrencySchema = z.strictObject({
  /** Requests of this route in progress at once, per worker. */
  max: z.number().int().min(1),
  /** Requests that may wait for a slot; more get 503 at once. */
  queue: z.number().int().min(0).default(0),
  /** How long a request may wait in the queue before 503. */
  queueTimeout: z
    .union([z.number(), z.string()])
    .transform((v, ctx) => {
      const ms = parseDuration(v)
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)}` })
        return z.NEVER
      }
      return ms
    })
    .default(5000),
})

export type ConcurrencyConfig = z.output<typeof concurrencySchema>
