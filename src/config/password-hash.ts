/**
 * Password hashes for `auth.basic` and the forward proxy's users, never
 * plain passwords. Two kinds, both through node:crypto, off the event loop:
 *
 * - argon2 (RFC 9106) in the PHC string format every argon2 tool writes,
 *   `$argon2id$v=19$m=65536,t=3,p=4$SALT$HASH` (salt and hash in base64
 *   without padding); argon2id, argon2i and argon2d are read. Make one with
 *   `argon2` from the argon2 package or CLI, or `hashPassword(p, 'argon2id')`.
 * - scrypt (RFC 7914), written `scrypt:N:r:p:SALT:HASH` (base64). To make one:
 *
 *   node -e 'const c=require("crypto"),s=c.randomBytes(16);console.log("scrypt:16384:8:1:"+s.toString("base64")+":"+c.scryptSync(process.argv[1],s,32,{N:16384,r:8,p:1}).toString("base64"))' 'PASSWORD'
 *
 * Weak parameters are refused when the configuration is read, not when a
 * password is checked: scrypt N below 2^14, argon2 memory below 19 MiB with
 * one pass or below 7 MiB at all (RFC 9106 §4 and OWASP's minimums).
 */
import * as crypto from 'node:crypto'
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto'

/**
 * node:crypto has argon2 from Node 24.7; on an older Node (the package
 * supports 22.19+) argon2 hashes are refused when the configuration is read.
 * A namespace import, since a named import of a missing export fails to link.
 */
const argon2 = (crypto as Partial<typeof crypto>).argon2
const argon2Sync = (crypto as Partial<typeof crypto>).argon2Sync

const SCRYPT_RE = /^scrypt:(\d+):(\d+):(\d+):([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/
const ARGON2_RE =
  /^\$(argon2id|argon2i|argon2d)\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/

/** A parsed password hash. */
export type PasswordHash =
  | { kind: 'scrypt'; N: number; r: number; p: number; salt: Buffer; hash: Buffer }
  | {
      kind: 'argon2id' | 'argon2i' | 'argon2d'
      /** Memory in KiB. */
      m: number
      /** Passes. */
      t: number
      /** Parallelism (lanes). */
      p: number
      salt: Buffer
      hash: Buffer
    }

/** The message the configuration shows for a hash parseHash refuses. */
export const HASH_FORMAT_MESSAGE =
  'must be an argon2 PHC string ($argon2id$v=19$m=…,t=…,p=…$SALT$HASH, m >= 19456 or t >= 2 with m >= 7168; Node >= 24.7) or scrypt:N:r:p:SALT:HASH with N >= 16384'

/** parseHash reads an argon2 PHC string or `scrypt:N:r:p:SALT:HASH`; undefined when malformed or too weak. */
export function parseHash(text: string): PasswordHash | undefined {
  const a = ARGON2_RE.exec(text)
  if (a) {
    const [m, t, p] = [Number(a[2]), Number(a[3]), Number(a[4])]
    const salt = Buffer.from(a[5]!, 'base64')
    const hash = Buffer.from(a[6]!, 'base64')
    const strongEnough = m >= 19456 || (t >= 2 && m >= 7168)
    if (
      argon2 === undefined ||
      !strongEnough ||
      t < 1 ||
      p < 1 ||
      p > 255 ||
      m < 8 * p ||
      salt.length < 8 ||
      hash.length < 16
    )
      return undefined
    return { kind: a[1] as 'argon2id', m, t, p, salt, hash }
  }
  const s = SCRYPT_RE.exec(text)
  if (!s) return undefined
  const [N, r, p] = [Number(s[1]), Number(s[2]), Number(s[3])]
  const hash = Buffer.from(s[5]!, 'base64')
  if (N < 16384 || (N & (N - 1)) !== 0 || r < 1 || p < 1 || hash.length < 16) return undefined
  return { kind: 'scrypt', N, r, p, salt: Buffer.from(s[4]!, 'base64'), hash }
}

/**
 * hashPassword makes a hash for the configuration: scrypt (N 2^14, r 8, p 1:
 * about 50 ms and 16 MB) or argon2id with RFC 9106 §4's second recommended
 * option (m 64 MiB, t 3, p 4).
 */
export function hashPassword(password: string, kind: 'scrypt' | 'argon2id' = 'scrypt'): string {
  const salt = randomBytes(16)
  if (kind === 'argon2id') {
    if (argon2Sync === undefined) throw new Error(`argon2 needs Node >= 24.7 (this is ${process.version})`)
    const hash = argon2Sync('argon2id', {
      message: password,
      nonce: salt,
      memory: 65536,
      passes: 3,
      parallelism: 4,
      tagLength: 32,
    })
    return `$argon2id$v=19$m=65536,t=3,p=4$${b64(salt)}$${b64(hash)}`
  }
  const hash = scryptSync(password, salt, 32, { N: 16384, r: 8, p: 1 })
  return `scrypt:16384:8:1:${salt.toString('base64')}:${hash.toString('base64')}`
}

/** verifyPassword checks `password` against `h` off the event loop, comparing in constant time. */
export function verifyPassword(password: string, h: PasswordHash): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (err: Error | null, derived: Buffer) =>
      resolve(err === null && derived.length === h.hash.length && timingSafeEqual(derived, h.hash))
    if (h.kind === 'scrypt') {
      const options = { N: h.N, r: h.r, p: h.p, maxmem: 256 * h.N * h.r + 1024 * 1024 }
      scrypt(password, h.salt, h.hash.length, options, done)
      return
    }
    const parameters = {
      message: password,
      nonce: h.salt,
      memory: h.m,
      passes: h.t,
      parallelism: h.p,
      tagLength: h.hash.length,
    }
    argon2!(h.kind, parameters, done) // parseHash made no argon2 hash without it
  })
}

/** PHC strings use base64 without padding. */
function b64(b: Buffer): string {
  return b.toString('base64').replace(/=+$/, '')
}

/**
 * dummyLike is a hash with the parameters of `h` that no password matches:
 * an unknown user is checked against it, so that the answer takes as long
 * as for a known user with a wrong password (no user enumeration by timing).
 */
export function dummyLike(h: PasswordHash): PasswordHash {
  return { ...h, salt: randomBytes(h.salt.length), hash: randomBytes(h.hash.length) }
}
