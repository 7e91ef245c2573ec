/**
 * The schema of a route's `auth`: exactly one way to authenticate
 * (docs/configuration.md, "Authentication").
 */
import { z } from 'zod'
import { apiKeySchema } from './api-key.ts'
import { basicSchema } from './basic-auth.ts'
import { forwardAuthSchema } from './forward-auth.ts'
import { jwtSchema } from './jwt.ts'

const METHODS = ['jwt', 'apiKey', 'basic', 'forward'] as const

export const authSchema = z
  .strictObject({
    /** Bearer JWTs (src/modules/jwt). */
    jwt: jwtSchema.optional(),
    /** API keys stored as SHA-256 hashes, each naming a consumer (src/modules/api-key). */
    apiKey: apiKeySchema.optional(),
    /** Basic auth with scrypt password hashes (src/modules/basic-auth). */
    basic: basicSchema.optional(),
    /** Ask an auth service (src/modules/forward-auth). */
    forward: forwardAuthSchema.optional(),
  })
  .refine((a) => METHODS.filter((m) => a[m] !== undefined).length === 1, {
    message: `needs exactly one of ${METHODS.join(', ')}`,
  })

export type AuthConfig = z.output<typeof authSchema>
