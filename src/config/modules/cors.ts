/**
 * The schema of a route's `cors` (docs/configuration.md, "CORS").
 */
import { z } from 'zod'
import { duration } from '../unit-schemas.ts'

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** An origin: `https://app.example.com`, `https://*.example.com` (any subdomain), or `null`. */
const origin = z.string().refine((o) => o === 'null' || /^https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d+)?$/.test(o), {
  message: 'an origin is scheme://host[:port], optionally scheme://*.domain, with no path',
})

export const corsSchema = z
  .strictObject({
    /** Allowed origins, or `*` for any (then never with credentials). */
    origins: z.union([z.literal('*'), z.array(origin).min(1)]),
    /** Methods a preflight allows. */
    methods: z.array(z.string().regex(TOKEN)).min(1).default(['GET', 'HEAD', 'POST']),
    /** Request headers a preflight allows; default: those the preflight asks for. */
    headers: z.array(z.string().regex(TOKEN)).optional(),
    /** Response headers scripts may read. */
    exposeHeaders: z.array(z.string().regex(TOKEN)).default([]),
    /** Allow cookies and HTTP auth (Access-Control-Allow-Credentials). */
    credentials: z.boolean().default(false),
    /** How long a browser may cache a preflight's answer. */
    maxAge: duration.default(600_000),
  })
  .refine((c) => !(c.origins === '*' && c.credentials), {
    // Fetch standard §3.2.5: "*" is not honoured with credentials, and reflecting any origin instead
    // would hand every site the user's cookies.
    message: 'origins: "*" cannot be combined with credentials: list the origins',
    path: ['credentials'],
  })

export type CorsConfig = z.output<typeof corsSchema>
