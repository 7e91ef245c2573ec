/**
 * Leaf certificates for intercepted hosts, signed by the local CA and kept
 * as ready `SecureContext`s in a bounded LRU; concurrent CONNECTs for the
 * same new host share one generation (the cache holds the promise). All
 * leaves share one P-256 key made once (off the loop, by WebCrypto), so a
 * new host costs one DER encoding and one ECDSA signature (leaf-der.ts, a
 * fraction of a millisecond) and one SecureContext. Measured
 * (bench/forward/mitm.ts): @peculiar/x509's generic encoder took ~4-8 ms of
 * event-loop time per leaf, which queued a new host behind every other.
 */
import { webcrypto } from 'node:crypto'
import tls from 'node:tls'
import * as x509 from '@peculiar/x509'
import { EC_ALGORITHM, type LocalCa, pem } from './ca.ts'
import { type LeafTemplate, leafDer, subjectOf } from './leaf-der.ts'

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
  private template: Promise<{ template: LeafTemplate; keyPem: string }> | undefined

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
    const t = await this.leafTemplate()
    const now = Date.now()
    const notAfter = now + LEAF_DAYS * 86400_000
    const der = leafDer(t.template, name, new Date(now - 3600_000), new Date(notAfter))
    const certPem = pem('CERTIFICATE', der)
    // The chain sent: the leaf, then the CA (clients that trust the CA need no more).
    const context = tls.createSecureContext({ cert: `${certPem}${this.ca.certPem}\n`, key: t.keyPem })
    return { context, notAfter }
  }

  /** leafTemplate: what every leaf shares (the issuer, the CA key id, the one leaf key), made once. */
  private leafTemplate(): Promise<{ template: LeafTemplate; keyPem: string }> {
    this.template ??= (async () => {
      const pair = (await webcrypto.subtle.generateKey(EC_ALGORITHM, true, [
        'sign',
        'verify',
      ])) as webcrypto.CryptoKeyPair
      const ski = this.ca.cert.getExtension(x509.SubjectKeyIdentifierExtension)
      const caKeyId = ski
        ? Buffer.from(ski.keyId, 'hex')
        : Buffer.from(
            (await x509.AuthorityKeyIdentifierExtension.create(this.ca.cert.publicKey)).keyId!,
            'hex',
          )
      const template: LeafTemplate = {
        issuer: subjectOf(Buffer.from(this.ca.cert.rawData)),
        caKeyId,
        spki: Buffer.from(await webcrypto.subtle.exportKey('spki', pair.publicKey)),
        caKey: this.ca.signer,
      }
      return {
        template,
        keyPem: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', pair.privateKey)),
      }
    })()
    return this.template
  }
}
