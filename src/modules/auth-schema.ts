/**
 * The schema of a route's `auth`: exactly one way to authenticate
 * (docs/configuration.md, "Authentication").
 */
import { z } from 'zod'
import { jwtSchema } from './jwt/schema.ts'

const METHODS = ['jwt'] as const

export const authSchema = z
  .strictObject({
    /** Bearer JWTs (src/modules/jwt). */
    jwt: jwtSchema.optional(),
  })
  .refine((a) => METHODS.filter((m) => a[m] !== undefined).length === 1, {
    message: `needs exactly one of ${METHODS.join(', ')}`,
  })

export type AuthConfig = z.output<typeof authSchema>
