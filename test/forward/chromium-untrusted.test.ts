/**
 * Headless Chromium that does not trust the local CA (an empty NSS database,
 * never `ignoreHTTPSErrors`): the page fails with Chromium's certificate
 * error, and the operator's error log says why, once per refused
 * connection: the client refused our certificate, at info (routine for an
 * intercepting proxy), with the destination and the CONNECT's request id.
 * Nothing is left open on either side. Skipped when chromium or certutil is
 * missing.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import type { Session } from '../../src/core/session.ts'
import { chromiumSkip, launchThroughProxy } from '../helpers/chromium.ts'
import { startForward, waitFor } from '../helpers/forward.ts'
import { mitmFixture } from '../helpers/https-origin.ts'

const skip = await chromiumSkip()

test(
  'chromium without the CA: a certificate error, and the log says it refused our certificate',
  { skip },
  async (t) => {
    const s = await mitmFixture(t, (_req, res) => res.end('<p>secret page</p>'))
    // A HOME whose NSS database trusts nothing of ours.
    const home = join(s.dir, 'home')
    await mkdir(join(home, '.pki', 'nssdb'), { recursive: true })
    await promisify(execFile)('certutil', [
      '-N',
      '-d',
      `sql:${join(home, '.pki', 'nssdb')}`,
      '--empty-password',
    ])
    const file = join(s.dir, 'error.log')
    const connects: Session[] = []
    const fwd = await startForward(
      { allow: ['127.0.0.1'], mitm: { caDir: s.caDir, hosts: ['localhost'], upstreamCa: s.cert.certPath } },
      {
        t,
        hooks: { onLog: (session) => void (session.method === 'CONNECT' && connects.push(session)) },
        extra: { log: { file, format: 'json', level: 'debug' } },
      },
    )
    const browser = await launchThroughProxy(t, fwd.proxy, home)
    const page = await browser.newPage()
    await assert.rejects(
      page.goto(`https://localhost:${s.port}/`, { timeout: 10_000 }),
      /ERR_CERT_AUTHORITY_INVALID/,
    )
    await browser.close()
    assert.ok(await waitFor(() => fwd.gw.stats().connections === 0), 'no client connection left')
    const lines = (await readFile(file, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => String(l.msg).startsWith('mitm:'))
    const refused = lines.filter((l) => l.msg === 'mitm: the client refused our certificate')
    assert.ok(refused.length >= 1, JSON.stringify(lines))
    for (const line of refused) {
      assert.equal(line.level, 'info')
      assert.equal(line.code, 'TLS_HANDSHAKE_FAILED')
      // Chromium sends certificate_unknown (46): OpenSSL 3 calls it `ssl/tls alert certificate unknown`.
      assert.match(String(line.errno), /^ERR_SSL_.*_ALERT_(CERTIFICATE_UNKNOWN|UNKNOWN_CA|BAD_CERTIFICATE)$/)
      assert.equal(line.destination, `localhost:${s.port}`)
    }
    // One line per failed interception, each with the request id of its CONNECT Session (Chromium's
    // own CONNECTs to Google's services fail name resolution here: 502, not intercepted).
    const failed = connects.filter((c) => c.status === 200 && c.error !== undefined)
    assert.deepEqual(lines.map((l) => l.requestId).sort(), failed.map((c) => c.id).sort())
    assert.equal(fwd.gw.stats().connections, 0)
  },
)
