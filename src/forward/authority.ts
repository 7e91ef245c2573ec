/**
 * The destination a forward-proxied request names: the authority of an
 * absolute-form target (RFC 9112 §3.2.2) or of a CONNECT (authority-form,
 * RFC 9112 §3.2.3, where the port is required).
 */
import { isIP } from 'node:net'
import type { Destination } from '../core/session.ts'

const NAME_RE = /^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/

/**
 * parseAuthority reads `host[:port]` (`[v6]:port` for IPv6). Returns
 * undefined for anything that is not a host name or IP literal with a port
 * in 1-65535: an authority we cannot read is never guessed at.
 */
export function parseAuthority(
  text: string,
  scheme: 'http' | 'https',
  portRequired: boolean,
): Destination | undefined {
  let host: string
  let portText: string | undefined
  const bracket = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(text)
  if (bracket !== null) {
    host = bracket[1]!
    portText = bracket[2]
    if (isIP(host) !== 6) return undefined
  } else {
    const colon = text.lastIndexOf(':')
    host = colon === -1 ? text : text.slice(0, colon)
    portText = colon === -1 ? undefined : text.slice(colon + 1)
    host = host.toLowerCase()
    if (host.length > 253 || (isIP(host) !== 4 && !NAME_RE.test(host))) return undefined
    if (host.endsWith('.')) host = host.slice(0, -1)
    // RFC 3696 §2: a top-level label is never all digits, so `127.1` or
    // `1.2.3.4.5` is neither a name nor an IPv4 literal (inet_aton reads some as addresses).
    if (isIP(host) === 0 && /(^|\.)\d+$/.test(host)) return undefined
  }
  if (portText === undefined && portRequired) return undefined
  const port = portText === undefined ? (scheme === 'https' ? 443 : 80) : Number(portText)
  if (portText !== undefined && !/^\d{1,5}$/.test(portText)) return undefined
  if (!(port >= 1 && port <= 65535)) return undefined
  return { host, port, scheme }
}

/** authorityOf writes a destination back as `host:port` (brackets for IPv6). */
export function authorityOf(d: Destination): string {
  return isIP(d.host) === 6 ? `[${d.host}]:${d.port}` : `${d.host}:${d.port}`
}
