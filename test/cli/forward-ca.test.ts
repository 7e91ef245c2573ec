/**
 * `portcullis ca init|show` and `portcullis forward`, run as the real
 * binary: the CA files and their modes, refusing to replace a CA, the trust
 * recipes, usage errors, and a forward proxy started from flags serving
 * curl until SIGTERM.
 */
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { startOrigin } from '../helpers/gateway.ts'
import { curl } from '../helpers/forward.ts'
import { runCli, startCli, withTempDir } from './run-cli.ts'

describe('portcullis ca', () => {
  it('init creates ca.pem and a 0600 key, refuses to replace them; show prints cert, fingerprint, recipes', async () => {
    await withTempDir(async (dir) => {
      const caDir = join(dir, 'ca')
      const init = await runCli(['ca', 'init', '--dir', caDir])
      assert.equal(init.code, 0, init.stderr)
      assert.match(init.stdout, /^-----BEGIN CERTIFICATE-----\n/)
      assert.equal((await stat(join(caDir, 'ca-key.pem'))).mode & 0o777, 0o600)
      assert.doesNotMatch(init.stdout + init.stderr, /PRIVATE KEY/)
      const again = await runCli(['ca', 'init', '--dir', caDir])
      assert.equal(again.code, 2)
      assert.match(again.stderr, /a CA already exists/)
      const show = await runCli(['ca', 'show', '--dir', caDir])
      assert.equal(show.code, 0)
      assert.match(show.stdout, /SHA-256 fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}\n/)
      assert.match(show.stdout, /curl --cacert .*ca\.pem/)
      assert.match(show.stdout, /certutil -d sql:\$HOME\/\.pki\/nssdb -A -t "C,,"/)
      assert.match(show.stdout, /update-ca-certificates/)
    })
  })

  it('init --rsa makes an RSA 2048 CA', async () => {
    await withTempDir(async (dir) => {
      const caDir = join(dir, 'ca')
      const init = await runCli(['ca', 'init', '--rsa', '--dir', caDir])
      assert.equal(init.code, 0, init.stderr)
      const cert = new X509Certificate(await readFile(join(caDir, 'ca.pem')))
      assert.equal(cert.publicKey.asymmetricKeyType, 'rsa')
      assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048)
      assert.ok(cert.ca)
      assert.equal((await stat(join(caDir, 'ca-key.pem'))).mode & 0o777, 0o600)
    })
  })

  it('show without a CA is a runtime failure; an unknown action is a usage error', async () => {
    await withTempDir(async (dir) => {
      const show = await runCli(['ca', 'show', '--dir', join(dir, 'none')])
      assert.equal(show.code, 2)
      assert.match(show.stderr, /no CA in .*run 'portcullis ca init/)
      const bad = await runCli(['ca', 'make'])
      assert.equal(bad.code, 1)
      assert.match(bad.stderr, /expected 'init' or 'show', got 'make'/)
    })
  })
})

describe('portcullis forward', () => {
  it('a bad --allow names the flag (exit 1)', async () => {
    const r = await runCli(['forward', '--listen', '127.0.0.1:0', '--allow', 'not a host'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^portcullis forward: --allow not a host: must be HOST/)
  })

  it('--har FILE: the traffic in a HAR 1.2 file written while it runs and on SIGTERM, Authorization redacted', async (t) => {
    await withTempDir(async (dir) => {
      const origin = await startOrigin(undefined, { t })
      const file = join(dir, 'capture.har')
      const cli = startCli(['forward', '--listen', '127.0.0.1:0', '--allow', '127.0.0.1', '--har', file])
      t.after(() => cli.child.kill('SIGKILL'))
      const m = await cli.waitForStderr(/forward proxy listening on (http:\/\/127\.0\.0\.1:\d+)/)
      const ok = await curl(['-x', m[1]!, '-H', 'Authorization: Bearer secret-token', `${origin.url}/first`])
      assert.equal(ok.stdout, 'ok')
      cli.child.kill('SIGTERM')
      assert.equal(await cli.exited, 0)
      const har = JSON.parse(await readFile(file, 'utf8')) as {
        log: {
          version: string
          entries: { request: { url: string; headers: { name: string; value: string }[] } }[]
        }
      }
      assert.equal(har.log.version, '1.2')
      assert.deepEqual(
        har.log.entries.map((e) => e.request.url),
        [`${origin.url}/first`],
      )
      const auth = har.log.entries[0]!.request.headers.find((h) => h.name.toLowerCase() === 'authorization')
      assert.equal(auth?.value, '[redacted]')
      assert.doesNotMatch(JSON.stringify(har), /secret-token/)
    })
  })

  it('serves curl -x with --allow, refuses loopback without it, exits 0 on SIGTERM', async (t) => {
    const origin = await startOrigin(undefined, { t })
    const cli = startCli(['forward', '--listen', '127.0.0.1:0', '--allow', '127.0.0.1'])
    t.after(() => cli.child.kill('SIGKILL'))
    const m = await cli.waitForStderr(/forward proxy listening on (http:\/\/127\.0\.0\.1:\d+)/)
    const ok = await curl(['-x', m[1]!, `${origin.url}/`])
    assert.equal(ok.stdout, 'ok')
    const refused = await curl(['-x', m[1]!, '-i', `http://[::1]:${origin.port}/`])
    assert.match(refused.stdout, /^HTTP\/1\.1 403/)
    cli.child.kill('SIGTERM')
    assert.equal(await cli.exited, 0)
  })
})
