/**
 * The real client address of a request, for policies that key on it (rate
 * limits, IP allow and deny lists). The connecting peer is the client unless
 * it is one of `proxy.trustedProxies`; then X-Forwarded-For is read from the
 * right, and the first address not itself trusted is the client (as nginx's
 * realip module with `real_ip_recursive on`). Addresses a client wrote to the
 * left of that are never believed: anyone can send X-Forwarded-For.
 */
import { isIP } from 'node:net'
import type { Session } from '../core/session.ts'

/** Tells whether an address is a trusted proxy (`ForwardingPolicy.trusts`). */
export type TrustCheck = (address: string) => boolean

/** realClientAddress returns the client address of `session` under `trusts` (see above). */
export function realClientAddress(session: Session, trusts: TrustCheck): string {
  const peer = session.clientAddress
  if (!trusts(peer)) return peer
  const raw = session.head.rawHeaders
  let chain: string[] | undefined
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 15 && raw[i]!.toLowerCase() === 'x-forwarded-for')
      (chain ??= []).push(...raw[i + 1]!.split(','))
  }
  if (chain === undefined) return peer
  let client = peer
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = unbracket(chain[i]!.trim())
    if (isIP(hop) === 0) return client // garbage: stop at the last address we could trust
    client = hop
    if (!trusts(hop)) return hop
  }
  return client
}

/** unbracket strips `[v6]` brackets and a `:port` some proxies append. */
function unbracket(hop: string): string {
  if (hop.startsWith('[')) return hop.slice(1, hop.indexOf(']') === -1 ? undefined : hop.indexOf(']'))
  const colon = hop.indexOf(':')
  if (colon !== -1 && colon === hop.lastIndexOf(':')) return hop.slice(0, colon) // IPv4:port
  return hop
}
