/**
 * The local certificate authority used for TLS interception: an ECDSA P-256
 * key (or RSA 2048 on request, for clients that want an RSA root) and a
 * self-signed CA certificate made with @peculiar/x509 over Node's
 * WebCrypto (no OpenSSL command, no key math in JavaScript). `ca.pem` is the
 * certificate clients are told to trust; `ca-key.pem` is the private key,
 * written with mode 0600 and never printed.
 */
import { createPrivateKey, type KeyObject, webcrypto, X509Certificate as NodeX509 } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'

x509.cryptoProvider.set(webcrypto as never)

/** ECDSA P-256 with SHA-256: small keys, fast signatures, accepted by every current client. */
export const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const

/** RSA 2048 with SHA-256 (PKCS #1 v1.5, RFC 8017): `ca init --rsa`. Leaves keep their P-256 key either way. */
export const RSA_ALGORITHM = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
} as const

export const CA_CERT_FILE = 'ca.pem'
export const CA_KEY_FILE = 'ca-key.pem'

/** A loaded CA: its certificate (PEM and parsed) and its signing key. */
export interface LocalCa {
  certPem: string
  cert: x509.X509Certificate
  key: webcrypto.CryptoKey
  /** The same key for node:crypto's `sign` (leaf-der.ts). */
  signer: KeyObject
}

/** caPaths names the two files of a CA directory. */
export function caPaths(dir: string): { cert: string; key: string } {
  return { cert: join(dir, CA_CERT_FILE), key: join(dir, CA_KEY_FILE) }
}

/**
 * createCa makes a new CA in `dir` (created 0700 if missing), valid ten
 * years, ECDSA P-256 unless `rsa`. Refuses to overwrite an existing one: a
 * CA users already trust must not silently change.
 */
export async function createCa(
  dir: string,
  name = 'Portcullis local CA',
  options: { rsa?: boolean } = {},
): Promise<LocalCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const paths = caPaths(dir)
  const algorithm = options.rsa ? RSA_ALGORITHM : EC_ALGORITHM
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${name}, O=Portcullis`,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 10 * 365 * 86400_000),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  const keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey))
  // 'wx': fail if the file exists; the mode applies at creation, chmod makes sure under any umask.
  await writeFile(paths.key, keyPem, { mode: 0o600, flag: 'wx' })
  await chmod(paths.key, 0o600)
  const certPem = cert.toString('pem')
  await writeFile(paths.cert, `${certPem}\n`, { flag: 'wx' })
  return { certPem, cert, key: keys.privateKey, signer: createPrivateKey(keyPem) }
}

/** loadCa reads a CA made by createCa (or any ECDSA P-256 or RSA CA with its key in PKCS#8 PEM). */
export async function loadCa(dir: string): Promise<LocalCa> {
  const paths = caPaths(dir)
  const certPem = (await readFile(paths.cert, 'latin1')).trim()
  const keyPem = await readFile(paths.key, 'latin1')
  const signer = createPrivateKey(keyPem)
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64')
  const algorithm = signer.asymmetricKeyType === 'rsa' ? RSA_ALGORITHM : EC_ALGORITHM
  const key = await webcrypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign'])
  return { certPem, cert: new x509.X509Certificate(certPem), key: key as webcrypto.CryptoKey, signer }
}

/** fingerprint is the SHA-256 fingerprint of a PEM certificate, `AB:CD:…` as browsers show it. */
export function fingerprint(certPem: string): string {
  return new NodeX509(certPem).fingerprint256
}

/** randomSerial: 16 random bytes, first bit clear (RFC 5280 §4.1.2.2: a positive integer, at most 20 octets). */
export function randomSerial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16))
  b[0]! &= 0x7f
  b[0]! |= 0x01
  return Buffer.from(b).toString('hex')
}

/** pem wraps DER bytes as PEM. */
export function pem(label: string, der: ArrayBuffer | Buffer): string {
  const b64 = Buffer.from(der as ArrayBuffer)
    .toString('base64')
    .replace(/.{64}/g, '$&\n')
  return `-----BEGIN ${label}-----\n${b64.trimEnd()}\n-----END ${label}-----\n`
}
