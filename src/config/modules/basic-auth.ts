/**
 * The schema of `auth.basic`: users and their argon2 or scrypt password hashes
 * (never plain passwords; hash.ts says how to make one).
 */
import { z } from 'zod'
import { HASH_FORMAT_MESSAGE, parseHash } from '../password-hash.ts'

export const basicSchema = z.strictObject({
  /** user name → an argon2 PHC string or `scrypt:N:r:p:SALT:HASH`. */
  users: z
    .record(
      z.string().regex(/^[^:]+$/, 'a user name cannot contain : (RFC 7617 §2)'),
      z.string().refine((h) => parseHash(h) !== undefined, { message: HASH_FORMAT_MESSAGE }),
    )
    .refine((u) => Object.keys(u).length > 0, { message: 'needs at least one user' }),
  /** The realm of the Basic challenge (RFC 7617 §2). */
  realm: z.string().default('portcullis'),
})

export type BasicConfig = z.output<typeof basicSchema>
