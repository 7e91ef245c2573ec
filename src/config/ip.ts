import { isIP } from 'node:net'

/** isIpOrCidr accepts `1.2.3.4`, `::1`, `10.0.0.0/8` and `fd00::/8`. */
export function isIpOrCidr(text: string): boolean {
  const [ip, bits, extra] = text.split('/')
  const family = isIP(ip!)
  if (family === 0 || extra !== undefined) return false
  if (bits === undefined) return true
  if (!/^\d{1,3}$/.test(bits)) return false
  return Number(bits) <= (family === 4 ? 32 : 128)
}
