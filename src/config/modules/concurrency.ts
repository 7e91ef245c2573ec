/**
 * The schema of a route's `concurrency` (docs/configuration.md,
 * "Concurrency limits").
 */
import { z } from 'zod'
import { duration } from '../unit-schemas.ts'

export const concurrencySchema = z.strictObject({
  /** Requests of this route in progress at once (in the instance, with the default store). */
  max: z.number().int().min(1),
  /** Where the count lives: the instance (`shared`), every instance (`redis`), each worker (`memory`). */
  store: z.enum(['memory', 'shared', 'redis']).default('shared'),
  /** Requests that may wait for a slot, per worker; more get 503 at once. */
  queue: z.number().int().min(0).default(0),
  /** How long a request may wait in the queue before 503. */
  queueTimeout: duration.default(5000),
})

export type ConcurrencyConfig = z.output<typeof concurrencySchema>
