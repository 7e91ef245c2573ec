/**
 * Which destinations the forward proxy may reach. Safe by default: a
 * CONNECT goes only to port 443 (or `forward.ports`), and no request goes to
 * a loopback, private, link-local or otherwise special address, nor to the
 * proxy itself, unless an `allow` entry names the destination. `deny`
 * entries refuse first. Address rules are applied to the address the name
 * RESOLVED to, which is then the address connected to (resolve.ts), so a
 * name whose DNS points at 127.0.0.1 cannot smuggle a private target in.
 */
import { BlockList, isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { splitPattern } from '../config/forward-schema.ts'
import { GatewayError } from '../core/errors.ts'

/** One `allow` or `deny` entry. */
interface Rule {
  /** Lowercased host name, `*.domain` suffix (leading dot kept), '*', or undefined for an address rule. */
  name: string | undefined
  suffix: boolean
  /** For IP and CIDR entries. */
  addresses: BlockList | undefined
  port: number | undefined
}

/** Address ranges refused unless allowed: RFC 6890 special-purpose registries, the parts that are not the Internet. */
const SPECIAL_V4 = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // RFC 6598 shared (CGNAT)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata lives here)
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const
const SPECIAL_V6 = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const

const special = new BlockList()
for (const [a, bits] of SPECIAL_V4) special.addSubnet(a, bits, 'ipv4')
for (const [a, bits] of SPECIAL_V6) special.addSubnet(a, bits, 'ipv6')

/** isSpecialAddress: loopback, private, link-local … (IPv4-mapped IPv6 addresses are checked as IPv4). */
export function isSpecialAddress(address: string): boolean {
  const v4 = mappedV4(address)
  if (v4 !== undefined) return special.check(v4, 'ipv4')
  return special.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')
}

function mappedV4(address: string): string | undefined {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return m === null ? (isIP(address) === 4 ? address : undefined) : m[1]
}

function compileRule(text: string): Rule {
  const { host, port } = splitPattern(text)
  const portNumber = port === undefined ? undefined : Number(port)
  const [ip, bits] = host.split('/')
  const family = isIP(ip!)
  if (family !== 0) {
    const list = new BlockList()
    const f = family === 6 ? 'ipv6' : 'ipv4'
    if (bits === undefined) list.addAddress(ip!, f)
    else list.addSubnet(ip!, Number(bits), f)
    return { name: undefined, suffix: false, addresses: list, port: portNumber }
  }
  const lower = host.toLowerCase()
  if (lower.startsWith('*.'))
    return { name: lower.slice(1), suffix: true, addresses: undefined, port: portNumber }
  return { name: lower, suffix: false, addresses: undefined, port: portNumber }
}

function matchesName(rule: Rule, host: string, port: number): boolean {
  if (rule.port !== undefined && rule.port !== port) return false
  if (rule.addresses !== undefined) return isIP(host) !== 0 && matchesAddress(rule, host, port)
  if (rule.name === '*') return true
  return rule.suffix ? host.endsWith(rule.name!) : host === rule.name
}

function matchesAddress(rule: Rule, address: string, port: number): boolean {
  if (rule.port !== undefined && rule.port !== port) return false
  if (rule.addresses === undefined) return false
  const v4 = mappedV4(address)
  return v4 !== undefined
    ? rule.addresses.check(v4, 'ipv4')
    : rule.addresses.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')
}

/** What the rules are given. */
export interface RulesConfig {
  allow: readonly string[]
  deny: readonly string[]
  ports: readonly number[]
}

/** The compiled `allow`, `deny` and `ports` of a forward proxy. */
export class DestinationRules {
  private readonly allow: Rule[]
  private readonly deny: Rule[]
  private readonly ports: ReadonlySet<number>
  /** The ports this process listens on, to refuse looping through itself. */
  private readonly ownPorts: () => readonly number[]

  constructor(cfg: RulesConfig, ownPorts: () => readonly number[]) {
    this.allow = cfg.allow.map(compileRule)
    this.deny = cfg.deny.map(compileRule)
    this.ports = new Set([443, ...cfg.ports])
    this.ownPorts = ownPorts
  }

  /** checkName applies what the name alone decides, before any DNS: `deny`. */
  checkName(host: string, port: number): GatewayError | undefined {
    if (this.deny.some((r) => matchesName(r, host, port))) return refused(`${host}:${port} denied`)
    return undefined
  }

  /**
   * checkPort: a CONNECT goes to 443, `ports`, or a destination `allow`
   * names (by name, or by the address it resolved to when there is one).
   * RFC 9110 §9.3.6: tunnels to arbitrary ports make a proxy an open relay.
   */
  checkPort(host: string, port: number, address?: string): GatewayError | undefined {
    if (this.ports.has(port) || this.allowedName(host, port)) return undefined
    if (address !== undefined && this.allowedAddress(address, port)) return undefined
    return refused(`CONNECT to port ${port} not allowed`)
  }

  /** checkAddress applies the address rules (and for CONNECT the port rule) to the address `host` resolved to. */
  checkAddress(host: string, port: number, address: string, connect: boolean): GatewayError | undefined {
    if (this.deny.some((r) => matchesAddress(r, address, port))) return refused(`${address}:${port} denied`)
    if (connect) {
      const refusedPort = this.checkPort(host, port, address)
      if (refusedPort !== undefined) return refusedPort
    }
    if (this.isSelf(address, port)) return refused('the proxy itself')
    if (isSpecialAddress(address) && !this.allowedName(host, port) && !this.allowedAddress(address, port))
      return refused(`${host} resolved to ${address}, a special-purpose address`)
    return undefined
  }

  private allowedName(host: string, port: number): boolean {
    return this.allow.some((r) => matchesName(r, host, port))
  }

  private allowedAddress(address: string, port: number): boolean {
    return this.allow.some((r) => matchesAddress(r, address, port))
  }

  /** isSelf: one of our listening ports on an address of this machine (a request loop). */
  private isSelf(address: string, port: number): boolean {
    if (!this.ownPorts().includes(port)) return false
    const a = mappedV4(address) ?? address
    if (isSpecialAddress(a) && (a.startsWith('127.') || a === '::1' || a === '0.0.0.0' || a === '::'))
      return true
    for (const list of Object.values(networkInterfaces()))
      for (const i of list ?? []) if (i.address === a) return true
    return false
  }
}

function refused(message: string): GatewayError {
  return new GatewayError('DESTINATION_FORBIDDEN', message)
}

/** matchesAny tells whether `host:port` matches one of the patterns (mitm.hosts, chain.match). */
export function compilePatterns(patterns: readonly string[]): (host: string, port: number) => boolean {
  const rules = patterns.map(compileRule)
  return (host, port) => rules.some((r) => matchesName(r, host, port))
}
