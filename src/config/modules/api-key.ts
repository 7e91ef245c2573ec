/**
 * The schema of `auth.apiKey`: where the key is read and the keys, stored
 * as SHA-256 hashes (never plain), each naming its consumer.
 */
import { z } from 'zod'

const HASH_RE = /^sha256:[0-9a-f]{64}$/

export const apiKeySchema = z.strictObject({
  /** Where the key is read, first found wins: `header:NAME` or `query:NAME`. */
  from: z
    .array(
      z.string().regex(/^(header|query):[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, {
        message: 'use header:NAME or query:NAME',
      }),
    )
    .min(1)
    .default(['header:x-api-key']),
  /** The accepted keys: `sha256:HEX` of the key, and the consumer it names. */
  keys: z
    .array(
      z.strictObject({
        consumer: z.string().min(1),
        hash: z
          .string()
          .transform((h) => h.toLowerCase())
          .refine((h) => HASH_RE.test(h), {
            message: 'must be sha256: and 64 hex digits (see docs: the key is never written plain)',
          }),
      }),
    )
    .min(1),
  /** The realm of the challenge. */
  realm: z.string().default('portcullis'),
})

export type ApiKeyConfig = z.output<typeof apiKeySchema>
