/**
 * `portcullis forward --mitm --ca-dir DIR`, run as the installed command
 * (bin/portcullis.js) in a child process: with a CA made by `portcullis ca
 * init`, curl trusting only that CA gets the local HTTPS origin's answer
 * through the proxy on a leaf the CA issued; curl without it fails
 * verification (exit 60). The origin's self-signed certificate is trusted by
 * the child through NODE_EXTRA_CA_CERTS (added to the system CAs, never
 * verification off). A CA directory that does not exist is a clear error.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { hasOpenssl, makeSelfSigned } from '../fixtures/self-signed.ts'
import { curl } from '../helpers/forward.ts'
import { startHttpsOrigin } from '../helpers/https-origin.ts'
import { certThroughConnect } from '../helpers/tls-through-connect.ts'
import { runCli, withTempDir } from './run-cli.ts'

const BIN_JS = fileURLToPath(new URL('../../bin/portcullis.js', import.meta.url))
const skip = !(await hasOpenssl()) && 'needs openssl'

/** startBin spawns `bin/portcullis.js ...args` (killed when the test ends) and resolves with the proxy URL it prints. */
async function startBin(
  t: { after(fn: () => unknown): void },
  args: string[],
  env: Record<string, string>,
): Promise<{ proxy: string; stop(): Promise<number | null>; stderr(): string }> {
  const child = spawn(process.execPath, [BIN_JS, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  t.after(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'))
  let err = ''
  child.stderr.setEncoding('utf8')
  const proxy = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening after 20 s:\n${err}`)), 20_000)
    child.stderr.on('data', (d: string) => {
      err += d
      const m = /forward proxy listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)
      if (m) (clearTimeout(timer), resolve(m[1]!))
    })
    child.on('exit', () => (clearTimeout(timer), reject(new Error(`exited:\n${err}`))))
  })
  return {
    proxy,
    stderr: () => err,
    stop: () => (child.kill('SIGTERM'), exited),
  }
}

describe('portcullis forward --mitm', { skip }, () => {
  it('intercepts with the CA of --ca-dir: curl --cacert sees a leaf it issued; without it, exit 60', async (t) => {
    await withTempDir(async (dir) => {
      const caDir = join(dir, 'ca')
      const init = await runCli(['ca', 'init', '--dir', caDir])
      assert.equal(init.code, 0, init.stderr)
      const caPath = join(caDir, 'ca.pem')
      const caPem = await readFile(caPath, 'latin1')
      const ca = new X509Certificate(caPem)

      const cert = await makeSelfSigned(dir)
      const { port } = await startHttpsOrigin(
        t,
        (req, res) => res.end(`origin saw ${req.method} ${req.url}`),
        cert,
      )

      const cli = await startBin(
        t,
        ['forward', '--listen', '127.0.0.1:0', '--mitm', '--ca-dir', caDir, '--allow', '127.0.0.1'],
        { NODE_EXTRA_CA_CERTS: cert.certPath },
      )
      const url = `https://localhost:${port}/through?cli=1`
      const ok = await curl(['--cacert', caPath, '-x', cli.proxy, '-w', '\n%{certs}', url])
      assert.equal(ok.code, 0, `${ok.stderr}\n${cli.stderr()}`)
      const [body, certs] = [
        ok.stdout.slice(0, ok.stdout.indexOf('\n')),
        ok.stdout.slice(ok.stdout.indexOf('\n')),
      ]
      assert.equal(body, 'origin saw GET /through?cli=1')
      // curl's view of the chain: the leaf for localhost, issued by the local CA (not the origin's self-signed one).
      const issuer = /Issuer:\s*([^\n]+)/.exec(certs)?.[1]?.trim()
      assert.ok(issuer !== undefined, certs)
      assert.match(issuer, /portcullis/i, certs)
      assert.doesNotMatch(certs, /Issuer:\s*CN\s*=\s*localhost/, 'not the origin certificate')
      const leafPem = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(certs)?.[0]
      assert.ok(leafPem !== undefined, certs)
      const leaf = new X509Certificate(leafPem)
      assert.ok(leaf.checkIssued(ca))
      assert.ok(leaf.verify(ca.publicKey))
      assert.equal(leaf.checkHost('localhost'), 'localhost')

      // The same through a TLS client of our own: the proxy's leaf chains to the CA, not the origin's.
      const proxyPort = Number(new URL(cli.proxy).port)
      const seen = await certThroughConnect(proxyPort, 'localhost', port, caPem)
      assert.ok(seen.authorized, seen.error)
      assert.notEqual(seen.cert.fingerprint256, new X509Certificate(cert.cert).fingerprint256)

      // Without --cacert curl does not trust the leaf: CURLE_PEER_FAILED_VERIFICATION.
      const untrusted = await curl(['-x', cli.proxy, url])
      assert.equal(untrusted.code, 60, untrusted.stderr)
      // Trusting only the origin's certificate is no better: the proxy's leaf is what curl is shown.
      const originOnly = await curl(['--cacert', cert.certPath, '-x', cli.proxy, url])
      assert.equal(originOnly.code, 60, originOnly.stderr)

      assert.equal(await cli.stop(), 0)
    })
  })

  it('a --ca-dir without a CA is a runtime error naming the directory and ca init (exit 2)', async () => {
    await withTempDir(async (dir) => {
      const missing = join(dir, 'no-ca')
      const r = await runCli(['forward', '--listen', '127.0.0.1:0', '--mitm', '--ca-dir', missing])
      assert.equal(r.code, 2, r.stderr)
      assert.ok(r.stderr.includes(`cannot load the CA in ${missing}`), r.stderr)
      assert.ok(r.stderr.includes(`portcullis ca init --dir ${missing}`), r.stderr)
    })
  })
})
