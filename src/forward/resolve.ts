/**
 * Name resolution for the forward proxy. The address checked against the
 * destination rules is the address connected to: resolving once and
 * connecting to the result closes the window in which a second lookup (by
 * the socket layer) could return something else (DNS rebinding).
 */
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { GatewayError } from '../core/errors.ts'

/**
 * resolveHost returns the address to connect to for `host`: the literal
 * itself, else the first address `dns.lookup` gives (the system resolver,
 * /etc/hosts included, as every other client on the machine sees it).
 * Rejects with UPSTREAM_CONNECT_FAILED (502) when the name does not resolve.
 */
export async function resolveHost(host: string): Promise<string> {
  if (isIP(host) !== 0) return host
  try {
    const { address } = await lookup(host, { verbatim: true })
    return address
  } catch (err) {
    throw new GatewayError('UPSTREAM_CONNECT_FAILED', `cannot resolve ${host}`, { cause: err })
  }
}
