/**
 * The setup the interception tests share: an HTTPS origin on 127.0.0.1:0
 * with a self-signed certificate, closed when the test ends; and a fresh
 * local CA (createCa) in a temporary directory, with a certificate for the
 * origin beside it.
 */
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type http from 'node:http'
import https from 'node:https'
import type net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { makeSelfSigned, type SelfSigned } from '../fixtures/self-signed.ts'
import type { Cleanup } from './gateway.ts'

/** The key pair an HTTPS server is made with. */
export interface KeyPair {
  cert: string | Buffer
  key: string | Buffer
}

/** A listening HTTPS origin. */
export interface HttpsOrigin<C extends KeyPair = SelfSigned> {
  port: number
  /** The certificate it presents (a proxy trusts it through `upstreamCa: cert.certPath`). */
  cert: C
  server: https.Server
}

/** tempDir makes a temporary directory, removed when the test ends. */
async function tempDir(t: Cleanup, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/**
 * startHttpsOrigin starts `https.createServer(cert, handler)` on 127.0.0.1:0;
 * when the test ends its connections are closed and it is closed. Without
 * `cert`, a self-signed one for localhost and 127.0.0.1 is made in a
 * temporary directory.
 */
export async function startHttpsOrigin(t: Cleanup, handler?: http.RequestListener): Promise<HttpsOrigin>
export async function startHttpsOrigin<C extends KeyPair>(
  t: Cleanup,
  handler: http.RequestListener | undefined,
  cert: C,
): Promise<HttpsOrigin<C>>
export async function startHttpsOrigin(
  t: Cleanup,
  handler?: http.RequestListener,
  cert?: KeyPair,
): Promise<HttpsOrigin<KeyPair>> {
  cert ??= await makeSelfSigned(await tempDir(t, 'portcullis-origin-'))
  const server = https.createServer({ cert: cert.cert, key: cert.key }, handler)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))))
  return { port: (server.address() as net.AddressInfo).port, cert, server }
}

/** A local CA for forward.mitm, and an origin certificate, in a temporary directory. */
export interface MitmFixture {
  /** The temporary directory (removed when the test ends). */
  dir: string
  /** `dir/ca`, what forward.mitm.caDir takes. */
  caDir: string
  /** `dir/ca/ca.pem`, what `curl --cacert` takes. */
  caPemPath: string
  /** The CA certificate, PEM. */
  caPem: string
  ca: X509Certificate
  /** A self-signed certificate for localhost and 127.0.0.1 in `dir`. */
  cert: SelfSigned
}

/**
 * mitmFixture makes a temporary directory with a fresh CA in `ca/` and a
 * self-signed origin certificate; given a `handler`, it also starts an
 * HTTPS origin with that certificate (startHttpsOrigin) and adds its port.
 */
export async function mitmFixture(t: Cleanup): Promise<MitmFixture>
export async function mitmFixture(
  t: Cleanup,
  handler: http.RequestListener,
): Promise<MitmFixture & HttpsOrigin>
export async function mitmFixture(
  t: Cleanup,
  handler?: http.RequestListener,
): Promise<MitmFixture | (MitmFixture & HttpsOrigin)> {
  const dir = await tempDir(t, 'portcullis-mitm-')
  const caDir = join(dir, 'ca')
  await createCa(caDir)
  const caPemPath = join(caDir, 'ca.pem')
  const caPem = await readFile(caPemPath, 'latin1')
  const cert = await makeSelfSigned(dir)
  const fixture = { dir, caDir, caPemPath, caPem, ca: new X509Certificate(caPem), cert }
  if (handler === undefined) return fixture
  return { ...fixture, ...(await startHttpsOrigin(t, handler, cert)) }
}
