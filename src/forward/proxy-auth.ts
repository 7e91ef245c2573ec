/**
 * Proxy authentication (RFC 9110 §11.7, §15.5.8): `Proxy-Authorization:
 * Basic base64(user:password)` (RFC 7617) checked against scrypt hashes off
 * the event loop; a missing or wrong one is answered 407 with
 * `Proxy-Authenticate`. Successes are remembered for a minute under an HMAC
 * of the field (never the credentials themselves), so a client repeating
 * them on each request does not pay scrypt each time. Credentials are never
 * logged, and the field is never forwarded (forward-runtime.ts removes it).
 */
import { createHmac, randomBytes } from 'node:crypto'
import { dummyLike, parseHash, type PasswordHash, verifyPassword } from '../config/password-hash.ts'

const REMEMBER_MS = 60_000
const REMEMBER_MAX = 10_000

/** Checks the Proxy-Authorization of forward-proxied requests. */
export class ProxyAuth {
  /** The `Proxy-Authenticate` challenge sent with a 407. */
  readonly challenge: string
  private readonly users: Map<string, PasswordHash>
  /** Like the users' hashes, so an unknown user takes as long (undefined: no users, nobody passes). */
  private readonly dummy: PasswordHash | undefined
  private readonly macKey = randomBytes(32)
  private readonly remembered = new Map<string, { user: string; until: number }>()

  constructor(realm: string, users: Readonly<Record<string, string>>) {
    this.challenge = `Basic realm="${realm.replace(/["\\]/g, '')}", charset="UTF-8"`
    this.users = new Map(Object.entries(users).map(([u, h]) => [u, parseHash(h)!]))
    const first = this.users.values().next().value
    this.dummy = first === undefined ? undefined : dummyLike(first)
  }

  /**
   * check resolves to the user the field authenticates, or undefined. An
   * unknown user is checked against a dummy hash, so timing does not tell
   * which users exist.
   */
  async check(field: string | undefined): Promise<string | undefined> {
    const creds = field === undefined ? undefined : decode(field)
    if (creds === undefined) return undefined
    const mac = createHmac('sha256', this.macKey).update(field!).digest('base64')
    const seen = this.remembered.get(mac)
    if (seen !== undefined && performance.now() < seen.until) return seen.user
    const hash = this.users.get(creds.user) ?? this.dummy
    if (hash === undefined) return undefined
    const ok = (await verifyPassword(creds.password, hash)) && this.users.has(creds.user)
    if (!ok) return undefined
    if (this.remembered.size >= REMEMBER_MAX) this.remembered.delete(this.remembered.keys().next().value!)
    this.remembered.set(mac, { user: creds.user, until: performance.now() + REMEMBER_MS })
    return creds.user
  }
}

/** decode reads `Basic base64(user:password)` (RFC 7617 §2; the scheme is case-insensitive). */
function decode(field: string): { user: string; password: string } | undefined {
  if (field.length < 7 || field.slice(0, 6).toLowerCase() !== 'basic ') return undefined
  const text = Buffer.from(field.slice(6).trim(), 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon <= 0) return undefined
  return { user: text.slice(0, colon), password: text.slice(colon + 1) }
}
