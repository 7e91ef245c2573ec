/**
 * The `access` route policy: IP allow and deny lists on the real client
 * address (client-address.ts: the peer, or under `proxy.trustedProxies`
 * the first untrusted X-Forwarded-For hop). Deny wins; with `allow`, only
 * listed addresses pass. A refused request gets 403 FORBIDDEN. IPv4-mapped
 * IPv6 addresses (::ffff:10.0.0.1) are checked as the IPv4 address.
 */
import { BlockList, isIP } from 'node:net'
import type { GatewayHooks, HookResult } from '../../core/hooks.ts'
import type { Session } from '../../core/session.ts'
import { realClientAddress } from '../client-address.ts'
import { policyError } from '../policy-response.ts'
import { policyOf } from '../policy-sets.ts'
import type { RouteModule } from '../registry.ts'

/** blockList compiles addresses and CIDRs into a node BlockList. */
export function blockList(entries: readonly string[]): BlockList {
  const list = new BlockList()
  for (const e of entries) {
    const [ip, bits] = e.split('/')
    const family = isIP(ip!) === 6 ? 'ipv6' : 'ipv4'
    if (bits === undefined) list.addAddress(ip!, family)
    else list.addSubnet(ip!, Number(bits), family)
  }
  return list
}

/** inList checks an address of either family. */
function inList(list: BlockList, address: string): boolean {
  const v4 = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
  const family = isIP(v4)
  return family !== 0 && list.check(v4, family === 6 ? 'ipv6' : 'ipv4')
}

/** accessModule gives a route with `access` its address check. */
export const accessModule: RouteModule = function access(route, config, context) {
  const cfg = policyOf(route, config, 'access')
  if (cfg === undefined) return undefined
  if (context === undefined) throw new Error('access: needs the gateway module context')
  const allow = cfg.allow === undefined ? undefined : blockList(cfg.allow)
  const deny = cfg.deny === undefined ? undefined : blockList(cfg.deny)
  const hooks: GatewayHooks = {
    onRequest: function accessCheck(session: Session): HookResult | undefined {
      const address = realClientAddress(session, context.trusts)
      if ((deny !== undefined && inList(deny, address)) || (allow !== undefined && !inList(allow, address)))
        return policyError(session, 'FORBIDDEN', [], 'access: address refused')
      return undefined
    },
  }
  return hooks
}
