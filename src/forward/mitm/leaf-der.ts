/**
 * Leaf certificates encoded directly (RFC 5280 §4.1, DER per X.690) and
 * signed with one `crypto.sign` call: the structure of a leaf never varies
 * but for its serial, validity, subject and SAN, so a generic ASN.1 library
 * (whose encoding ran for milliseconds on the event loop per leaf) is not
 * needed on this path. The CA and its key are still made and read by
 * @peculiar/x509 (ca.ts); this file only writes leaves.
 */
import { type KeyObject, randomBytes, sign } from 'node:crypto'
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

/** UTCTime (RFC 5280 §4.1.2.5.1: until 2049) `YYMMDDHHMMSSZ`. */
function utcTime(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14)
  return tlv(0x17, Buffer.from(`${s}Z`, 'latin1'))
}

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

/** What every leaf of one CA shares. */
export interface LeafTemplate {
  /** The CA's subject Name, DER (the leaves' issuer). */
  issuer: Buffer
  /** The CA's subject key identifier (the leaves' authority key identifier). */
  caKeyId: Buffer
  /** The shared leaf key's SubjectPublicKeyInfo, DER. */
  spki: Buffer
  /** The CA's private key (ECDSA P-256, or RSA: the leaves' signature algorithm follows it). */
  caKey: KeyObject
}

/** signatureAlgorithm: the AlgorithmIdentifier a CA key signs with (RFC 5758 §3.2, RFC 4055 §5: RSA's has NULL parameters). */
function signatureAlgorithm(caKey: KeyObject): Buffer {
  return caKey.asymmetricKeyType === 'rsa' ? seq(RSA_SHA256, NULL) : seq(ECDSA_SHA256)
}

/** leafDer writes and signs a leaf for `host`, valid from `notBefore` to `notAfter` (signed on the calling thread). */
export function leafDer(t: LeafTemplate, host: string, notBefore: Date, notAfter: Date): Buffer {
  const tbs = leafTbs(t, host, notBefore, notAfter)
  return signedLeaf(t, tbs, sign('sha256', tbs, { key: t.caKey, dsaEncoding: 'der' }))
}

/** leafTbs writes the TBSCertificate of a leaf for `host` (RFC 5280 §4.1). */
function leafTbs(t: LeafTemplate, host: string, notBefore: Date, notAfter: Date): Buffer {
  const serial = randomBytes(16)
  serial[0] = (serial[0]! & 0x7f) | 0x01 // positive, no leading zero (RFC 5280 §4.1.2.2)
  const cn = host.length <= 64 ? host : 'portcullis intercepted host'
  const subject = seq(tlv(0x31, seq(CN, tlv(0x0c, Buffer.from(cn, 'utf8')))))
  const extensions = seq(
    seq(SAN, octets(seq(sanFor(host)))),
    seq(BASIC_CONSTRAINTS, CRITICAL, octets(seq())),
    seq(KEY_USAGE, CRITICAL, octets(Buffer.from('03020780', 'hex'))), // digitalSignature
    seq(EXT_KEY_USAGE, octets(seq(SERVER_AUTH))),
    seq(AUTHORITY_KEY_ID, octets(seq(tlv(0x80, t.caKeyId)))),
  )
  return seq(
    VERSION_3,
    tlv(0x02, serial),
    signatureAlgorithm(t.caKey),
    t.issuer,
    seq(utcTime(notBefore), utcTime(notAfter)),
    subject,
    t.spki,
    tlv(0xa3, extensions),
  )
}

/** signedLeaf: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }. */
function signedLeaf(t: LeafTemplate, tbs: Buffer, signature: Buffer): Buffer {
  return seq(tbs, signatureAlgorithm(t.caKey), tlv(0x03, Buffer.concat([Buffer.from([0]), signature])))
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
