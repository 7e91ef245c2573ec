/**
 * The schema of a route's `access`: IP allow and deny lists by address or
 * CIDR, IPv4 and IPv6 (docs/configuration.md, "Access lists").
 */
import { z } from 'zod'
import { isIpOrCidr } from '../ip.ts'

const cidrList = z
  .array(
    z.string().refine(isIpOrCidr, { message: 'must be an IP address or CIDR (10.0.0.0/8, 2001:db8::/32)' }),
  )
  .min(1)

export const accessSchema = z
  .strictObject({
    /** Only these addresses may pass (when given). */
    allow: cidrList.optional(),
    /** These addresses never pass; checked first. */
    deny: cidrList.optional(),
  })
  .refine((a) => a.allow !== undefined || a.deny !== undefined, { message: 'needs allow, deny or both' })

export type AccessConfig = z.output<typeof accessSchema>
