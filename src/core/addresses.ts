/**
 * Client addresses: the form Node reports them in, and lists of trusted
 * peers (IPs and CIDRs). In core because routing (the `clients` condition),
 * forwarding (X-Forwarded-* trust) and policies all read them.
 */
import { BlockList, isIP } from 'node:net'

/** trustList compiles `trustedProxies` (IPs and CIDRs) into a predicate. */
export function trustList(entries: readonly string[]): (address: string) => boolean {
  if (entries.length === 0) return () => false
  const list = new BlockList()
  for (const e of entries) {
    const [ip, bits] = e.split('/')
    const family = isIP(ip!) === 6 ? 'ipv6' : 'ipv4'
    if (bits === undefined) list.addAddress(ip!, family)
    else list.addSubnet(ip!, Number(bits), family)
  }
  return (address) => list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')
}

/** clientIp strips the IPv4-mapped prefix Node reports on dual-stack sockets. */
export function clientIp(address: string | undefined): string {
  if (address === undefined) return ''
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}
