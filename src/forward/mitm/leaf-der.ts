/**
 * Leaf certificates encoded directly (RFC 5280 §4.1, DER per X.690) and
 * signed with one `crypto.sign` call: the structure of a leaf never varies
 * but for its serial, validity, subject and SAN, so a generic ASN.1 library
 * (whose encoding ran for milliseconds on the event loop per leaf) is not
 * needed on this path. The CA and its key are still made and read by
 * @peculiar/x509 (ca.ts); this file only writes leaves.
 */
import { type KeyObject, randomFillSync, sign } from 'node:crypto'
import { isIP } from 'node:net'

/** DER: a tag, its length, its content. */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length
  const len =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff])
  return Buffer.concat([Buffer.from([tag]), len, content])
}

const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts))
const oid = (hex: string) => Buffer.from(hex, 'hex') // pre-encoded OBJECT IDENTIFIER TLVs below
const octets = (b: Buffer) => tlv(0x04, b)

// OBJECT IDENTIFIERs, encoded.
const ECDSA_SHA256 = oid('06082a8648ce3d040302') // 1.2.840.10045.4.3.2
const RSA_SHA256 = oid('06092a864886f70d01010b') // 1.2.840.113549.1.1.11
const NULL = Buffer.from('0500', 'hex')
const CN = oid('0603550403') // 2.5.4.3
const SAN = oid('0603551d11') // 2.5.29.17
const BASIC_CONSTRAINTS = oid('0603551d13') // 2.5.29.19
const KEY_USAGE = oid('0603551d0f') // 2.5.29.15
const EXT_KEY_USAGE = oid('0603551d25') // 2.5.29.37
const AUTHORITY_KEY_ID = oid('0603551d23') // 2.5.29.35
const SERVER_AUTH = oid('06082b06010505070301') // 1.3.6.1.5.5.7.3.1
const CRITICAL = Buffer.from('0101ff', 'hex')
const VERSION_3 = Buffer.from('a003020102', 'hex')

/** sanFor: a dNSName, or an iPAddress for IP literals (RFC 5280 §4.2.1.6). */
function sanFor(host: string): Buffer {
  const family = isIP(host)
  if (family === 0) return tlv(0x82, Buffer.from(host, 'latin1'))
  if (family === 4) return tlv(0x87, Buffer.from(host.split('.').map(Number)))
  const groups = expandV6(host)
  const b = Buffer.alloc(16)
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2))
  return tlv(0x87, b)
}

function expandV6(host: string): number[] {
  const [head, tail] = host.split('::')
  const a = head ? head.split(':').map((h) => parseInt(h, 16)) : []
  const b = tail !== undefined && tail !== '' ? tail.split(':').map((h) => parseInt(h, 16)) : []
  return tail === undefined ? a : [...a, ...Array(8 - a.length - b.length).fill(0), ...b]
}

/** What every leaf of one CA shares (its key may differ: leafDer's `spki`). */
export interface LeafTemplate {
  /** The CA's subject Name, DER (the leaves' issuer). */
  issuer: Buffer
  /** The CA's subject key identifier (the leaves' authority key identifier). */
  caKeyId: Buffer
  /** The CA's private key (ECDSA P-256, or RSA: the leaves' signature algorithm follows it). */
  caKey: KeyObject
}

/** signatureAlgorithm: the AlgorithmIdentifier a CA key signs with (RFC 5758 §3.2, RFC 4055 §5: RSA's has NULL parameters). */
function signatureAlgorithm(caKey: KeyObject): Buffer {
  return caKey.asymmetricKeyType === 'rsa' ? seq(RSA_SHA256, NULL) : seq(ECDSA_SHA256)
}

/**
 * The bytes every leaf of one template shares, encoded once: a leaf is then
 * written into one buffer with its serial, validity, subject and SAN patched
 * in (measured: ~25 µs instead of ~90 µs of building and concatenating TLVs
 * per leaf, the signature aside).
 */
interface Compiled {
  /** serialNumber's tag and length, after the version. */
  head: Buffer
  /** signature, issuer, and the validity's tags and lengths up to notBefore's time. */
  middle: Buffer
  /** Every extension but the SAN. */
  extensions: Buffer
  /** The Certificate's signatureAlgorithm. */
  algorithm: Buffer
}

const compiled = new WeakMap<LeafTemplate, Compiled>()

function compile(t: LeafTemplate): Compiled {
  let c = compiled.get(t)
  if (c !== undefined) return c
  const algorithm = signatureAlgorithm(t.caKey)
  c = {
    head: Buffer.concat([VERSION_3, Buffer.from([0x02, SERIAL_BYTES])]),
    // Validity ::= SEQUENCE { 2 UTCTime of 13 bytes }, then notBefore's header.
    middle: Buffer.concat([algorithm, t.issuer, Buffer.from([0x30, 30, 0x17, 13])]),
    extensions: Buffer.concat([
      seq(BASIC_CONSTRAINTS, CRITICAL, octets(seq())),
      seq(KEY_USAGE, CRITICAL, octets(Buffer.from('03020780', 'hex'))), // digitalSignature
      seq(EXT_KEY_USAGE, octets(seq(SERVER_AUTH))),
      seq(AUTHORITY_KEY_ID, octets(seq(tlv(0x80, t.caKeyId)))),
    ]),
    algorithm,
  }
  compiled.set(t, c)
  return c
}

/** A serial of 16 random bytes, the first made positive and non-zero: always 16 bytes long (RFC 5280 §4.1.2.2). */
const SERIAL_BYTES = 16

/** headerLength: a DER tag and the length of `n` content bytes. */
const headerLength = (n: number) => (n < 0x80 ? 2 : n < 0x100 ? 3 : 4)

/** header writes a tag and the DER length `n` at `at`; returns the next offset. */
function header(b: Buffer, at: number, tag: number, n: number): number {
  b[at++] = tag
  if (n < 0x80) b[at++] = n
  else if (n < 0x100) {
    b[at++] = 0x81
    b[at++] = n
  } else {
    b[at++] = 0x82
    b[at++] = n >> 8
    b[at++] = n & 0xff
  }
  return at
}

/** writeUtcTime writes the 13 characters `YYMMDDHHMMSSZ` of a UTCTime (RFC 5280 §4.1.2.5.1: until 2049). */
function writeUtcTime(b: Buffer, at: number, d: Date): number {
  const parts = [
    d.getUTCFullYear() % 100,
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
  ]
  for (const v of parts) {
    b[at++] = 0x30 + ((v / 10) | 0)
    b[at++] = 0x30 + (v % 10)
  }
  b[at++] = 0x5a // Z
  return at
}

/**
 * leafDer writes and signs a leaf for `host`, valid from `notBefore` to
 * `notAfter` (signed on the calling thread), for the key whose
 * SubjectPublicKeyInfo is `spki` (DER).
 */
export function leafDer(
  t: LeafTemplate,
  host: string,
  notBefore: Date,
  notAfter: Date,
  spki: Buffer,
): Buffer {
  const c = compile(t)
  const tbs = leafTbs(c, host, notBefore, notAfter, spki)
  // The KeyObject itself: an options object costs ~40% more per call; ECDSA signatures are DER by default.
  const signature = sign('sha256', tbs, t.caKey)
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }.
  const bits = signature.length + 1
  const body = tbs.length + c.algorithm.length + headerLength(bits) + bits
  const out = Buffer.allocUnsafe(headerLength(body) + body)
  let at = header(out, 0, 0x30, body)
  at += tbs.copy(out, at)
  at += c.algorithm.copy(out, at)
  at = header(out, at, 0x03, bits)
  out[at++] = 0 // no unused bits
  signature.copy(out, at)
  return out
}

/** leafTbs writes the TBSCertificate of a leaf for `host` (RFC 5280 §4.1) into one buffer. */
function leafTbs(c: Compiled, host: string, notBefore: Date, notAfter: Date, spki: Buffer): Buffer {
  const cn = Buffer.from(host.length <= 64 ? host : 'portcullis intercepted host', 'utf8')
  const san = sanFor(host)
  // Lengths, inside out. subject ::= SEQUENCE { SET { SEQUENCE { CN, UTF8String } } }
  const atv = CN.length + headerLength(cn.length) + cn.length
  const rdn = headerLength(atv) + atv
  const name = headerLength(rdn) + rdn
  const subject = headerLength(name) + name
  // The SAN extension: SEQUENCE { OID, OCTET STRING { SEQUENCE { GeneralName } } }
  const sanSeq = headerLength(san.length) + san.length
  const sanOctets = headerLength(sanSeq) + sanSeq
  const sanExt = SAN.length + sanOctets
  const extList = headerLength(sanExt) + sanExt + c.extensions.length
  const extWrapped = headerLength(extList) + extList
  const body =
    c.head.length +
    SERIAL_BYTES +
    c.middle.length +
    13 +
    2 +
    13 +
    subject +
    spki.length +
    headerLength(extWrapped) +
    extWrapped
  const b = Buffer.allocUnsafe(headerLength(body) + body)
  let at = header(b, 0, 0x30, body)
  at += c.head.copy(b, at)
  randomFillSync(b, at, SERIAL_BYTES)
  b[at] = (b[at]! & 0x7f) | 0x01 // positive, no leading zero
  at += SERIAL_BYTES
  at += c.middle.copy(b, at)
  at = writeUtcTime(b, at, notBefore)
  b[at++] = 0x17
  b[at++] = 13
  at = writeUtcTime(b, at, notAfter)
  at = header(b, at, 0x30, name)
  at = header(b, at, 0x31, rdn)
  at = header(b, at, 0x30, atv)
  at += CN.copy(b, at)
  at = header(b, at, 0x0c, cn.length)
  at += cn.copy(b, at)
  at += spki.copy(b, at)
  at = header(b, at, 0xa3, extWrapped)
  at = header(b, at, 0x30, extList)
  at = header(b, at, 0x30, sanExt)
  at += SAN.copy(b, at)
  at = header(b, at, 0x04, sanSeq)
  at = header(b, at, 0x30, san.length)
  at += san.copy(b, at)
  at += c.extensions.copy(b, at)
  if (at !== b.length) throw new Error(`leaf DER: wrote ${at} of ${b.length} bytes`)
  return b
}

/** subjectOf returns the subject Name (DER) of a certificate (DER), the sixth field of its TBSCertificate. */
export function subjectOf(certDer: Buffer): Buffer {
  const tbs = children(children(certDer, 0)[0]!, 0)
  // version [0], serial, signature, issuer, validity, subject
  return tbs[0]![0] === 0xa0 ? tbs[5]! : tbs[4]!
}

/** children lists the TLVs inside the constructed TLV at `buf` (offset `at`). */
function children(buf: Buffer, at: number): Buffer[] {
  const { start, end } = bounds(buf, at)
  const out: Buffer[] = []
  for (let i = start; i < end;) {
    const b = bounds(buf, i)
    out.push(buf.subarray(i, b.end))
    i = b.end
  }
  return out
}

function bounds(buf: Buffer, at: number): { start: number; end: number } {
  let len = buf[at + 1]!
  let start = at + 2
  if (len & 0x80) {
    const n = len & 0x7f
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i]!
    start += n
  }
  return { start, end: start + len }
}
