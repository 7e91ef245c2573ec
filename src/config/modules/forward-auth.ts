/**
 * The schema of `auth.forward` (docs/configuration.md, "auth.forward").
 */
import { z } from 'zod'
import { duration } from '../unit-schemas.ts'

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export const forwardAuthSchema = z.strictObject({
  /** The auth service: asked GET with the request's credentials; 2xx passes. */
  url: z.string().refine((v) => /^https?:\/\/[^/]/.test(v), { message: 'must be an http(s):// URL' }),
  /** Request headers sent to the auth service (lower-case). */
  headers: z
    .array(
      z
        .string()
        .regex(TOKEN)
        .transform((h) => h.toLowerCase()),
    )
    .default(['authorization', 'cookie']),
  /** Headers of the auth service's 2xx answer copied to the upstream request (a client's own removed). */
  copy: z
    .array(
      z
        .string()
        .regex(TOKEN)
        .transform((h) => h.toLowerCase()),
    )
    .default([]),
  /** How long a decision (pass, 401, 403) is reused for the same request and credentials; 0: never. */
  cache: duration.default(0),
  /** The store that keeps cached decisions. */
  store: z.enum(['memory', 'shared', 'redis']).default('memory'),
  /** An auth service slower than this is an error: 503 AUTH_UNAVAILABLE. */
  timeout: duration.default(2000),
})

export type ForwardAuthConfig = z.output<typeof forwardAuthSchema>
