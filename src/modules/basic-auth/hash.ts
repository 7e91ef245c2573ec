/**
 * Password hashes for `auth.basic`: scrypt (RFC 7914) through node:crypto,
 * written `scrypt:N:r:p:SALT:HASH` (salt and hash in base64). To make one:
 *
 *   node -e 'const c=require("crypto"),s=c.randomBytes(16);console.log("scrypt:16384:8:1:"+s.toString("base64")+":"+c.scryptSync(process.argv[1],s,32,{N:16384,r:8,p:1}).toString("base64"))' 'PASSWORD'
 *
 * or `hashPassword` below from TypeScript.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto'

const HASH_RE = /^scrypt:(\d+):(\d+):(\d+):([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/

/** A parsed scrypt hash. */
export interface ScryptHash {
  N: number
  r: number
  p: number
  salt: Buffer
  hash: Buffer
}

/** parseHash reads `scrypt:N:r:p:SALT:HASH`; undefined when malformed or too weak (N < 2^14). */
export function parseHash(text: string): ScryptHash | undefined {
  const m = HASH_RE.exec(text)
  if (!m) return undefined
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const hash = Buffer.from(m[5]!, 'base64')
  if (N < 16384 || (N & (N - 1)) !== 0 || r < 1 || p < 1 || hash.length < 16) return undefined
  return { N, r, p, salt: Buffer.from(m[4]!, 'base64'), hash }
}

/** hashPassword makes a hash for the configuration (N 2^14, r 8, p 1: about 50 ms and 16 MB). */
export function hashPassword(password: string): string {
  const salt = randomBytes(16)
  const hash = scryptSync(password, salt, 32, { N: 16384, r: 8, p: 1 })
  return `scrypt:16384:8:1:${salt.toString('base64')}:${hash.toString('base64')}`
}

/** verifyPassword checks `password` against `h` off the event loop, comparing in constant time. */
export function verifyPassword(password: string, h: ScryptHash): Promise<boolean> {
  return new Promise((resolve) => {
    const options = { N: h.N, r: h.r, p: h.p, maxmem: 256 * h.N * h.r + 1024 * 1024 }
    scrypt(password, h.salt, h.hash.length, options, (err, derived) => {
      resolve(err === null && timingSafeEqual(derived, h.hash))
    })
  })
}
