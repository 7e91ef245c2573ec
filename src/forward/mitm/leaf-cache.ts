/**
 * Leaf certificates for intercepted hosts, signed by the local CA and kept
 * as ready `SecureContext`s in a bounded LRU. A leaf is made asynchronously
 * (WebCrypto signs on libuv's thread pool), so the event loop never blocks
 * on key math, and concurrent CONNECTs for the same new host share one
 * generation (the cache holds the promise). All leaves share one P-256 key
 * made at start: a new host costs a signature, not a key generation.
 */
import { webcrypto } from 'node:crypto'
import { isIP } from 'node:net'
import tls from 'node:tls'
import * as x509 from '@peculiar/x509'
import { EC_ALGORITHM, type LocalCa, pem, randomSerial } from './ca.ts'

/** Leaves are valid this long (short: they are made on demand and never leave the machine). */
const LEAF_DAYS = 7
/** A cached leaf is replaced once it has less than this left. */
const RENEW_MS = 86400_000

interface Leaf {
  context: tls.SecureContext
  notAfter: number
}

export class LeafCache {
  private readonly entries = new Map<string, Promise<Leaf>>()
  private readonly ca: LocalCa
  private readonly max: number
  private key: Promise<{ pair: webcrypto.CryptoKeyPair; pem: string }> | undefined
  /** The CA's key identifier, the same in every leaf: computed once (a hash and an encoding each time, measured ~15% of a leaf). */
  private authorityKeyId: Promise<x509.AuthorityKeyIdentifierExtension> | undefined

  constructor(ca: LocalCa, max: number) {
    this.ca = ca
    this.max = max
  }

  /** Hosts cached (made or being made). */
  get size(): number {
    return this.entries.size
  }

  /** contextFor resolves to a SecureContext presenting a leaf for `host` (a DNS name or IP). */
  async contextFor(host: string): Promise<tls.SecureContext> {
    const name = host.toLowerCase()
    let entry = this.entries.get(name)
    if (entry !== undefined) {
      this.entries.delete(name)
      this.entries.set(name, entry) // most recently used last
      const leaf = await entry
      if (leaf.notAfter - Date.now() > RENEW_MS) return leaf.context
      if (this.entries.get(name) === entry) this.entries.delete(name)
    }
    entry = this.make(name)
    this.entries.set(name, entry)
    entry.catch(() => this.entries.get(name) === entry && this.entries.delete(name))
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!)
    return (await entry).context
  }

  private async make(name: string): Promise<Leaf> {
    const key = await this.leafKey()
    const now = Date.now()
    const notAfter = now + LEAF_DAYS * 86400_000
    const san =
      isIP(name) === 0 ? { type: 'dns' as const, value: name } : { type: 'ip' as const, value: name }
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=${name.length <= 64 ? name : 'portcullis intercepted host'}`,
      issuer: this.ca.cert.subject,
      notBefore: new Date(now - 3600_000),
      notAfter: new Date(notAfter),
      signingAlgorithm: EC_ALGORITHM,
      publicKey: key.pair.publicKey,
      signingKey: this.ca.key,
      extensions: [
        new x509.SubjectAlternativeNameExtension([san]),
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        await (this.authorityKeyId ??= x509.AuthorityKeyIdentifierExtension.create(this.ca.cert.publicKey)),
      ],
    })
    // The chain sent: the leaf, then the CA (clients that trust the CA need no more).
    const context = tls.createSecureContext({
      cert: `${cert.toString('pem')}\n${this.ca.certPem}\n`,
      key: key.pem,
    })
    return { context, notAfter }
  }

  private leafKey(): Promise<{ pair: webcrypto.CryptoKeyPair; pem: string }> {
    this.key ??= (async () => {
      const pair = (await webcrypto.subtle.generateKey(EC_ALGORITHM, true, [
        'sign',
        'verify',
      ])) as webcrypto.CryptoKeyPair
      return { pair, pem: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', pair.privateKey)) }
    })()
    return this.key
  }
}
