/**
 * forward.mitm.passthrough: a host that `hosts` matches but `passthrough`
 * lists is tunnelled untouched (the client is shown the origin's own
 * certificate, and no request inside it becomes a Session), while another
 * host matched by `hosts` is intercepted (a leaf from the local CA).
 */
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Session } from '../../src/core/session.ts'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { curl, startForward, waitFor } from '../helpers/forward.ts'
import { mitmFixture } from '../helpers/https-origin.ts'
import { certThroughConnect } from '../helpers/tls-through-connect.ts'

const skip = !(await hasOpenssl()) && 'needs openssl'

test(
  'a passthrough host is tunnelled with the origin certificate; another host is intercepted',
  { skip },
  async (t) => {
    // The origin's certificate names both localhost and 127.0.0.1.
    const { caDir, caPem, ca, cert, port } = await mitmFixture(t, (req, res) => res.end(`origin ${req.url}`))
    const originCert = new X509Certificate(cert.cert)

    const logged: Session[] = []
    const fwd = await startForward(
      {
        allow: ['127.0.0.1'],
        mitm: {
          caDir,
          hosts: ['localhost', '127.0.0.1'],
          passthrough: ['localhost'],
          upstreamCa: cert.certPath,
        },
      },
      { t, hooks: { onLog: (s) => void logged.push(s) } },
    )

    // localhost: matched by hosts, listed in passthrough: the origin's own certificate.
    const passed = await certThroughConnect(fwd.port, 'localhost', port, cert.cert)
    assert.equal(passed.cert.fingerprint256, originCert.fingerprint256)
    assert.ok(passed.authorized, passed.error)
    assert.equal(passed.cert.checkIssued(ca), false)
    const passedVsCa = await certThroughConnect(fwd.port, 'localhost', port, caPem)
    assert.equal(passedVsCa.authorized, false, 'the local CA did not issue what a passthrough client sees')

    // 127.0.0.1: intercepted, a leaf the local CA signed, for that address.
    const cut = await certThroughConnect(fwd.port, '127.0.0.1', port, caPem)
    assert.ok(cut.authorized, cut.error)
    assert.notEqual(cut.cert.fingerprint256, originCert.fingerprint256)
    assert.ok(cut.cert.checkIssued(ca))
    assert.ok(cut.cert.verify(ca.publicKey))
    assert.equal(cut.cert.checkIP('127.0.0.1'), '127.0.0.1')
    const cutVsOrigin = await certThroughConnect(fwd.port, '127.0.0.1', port, cert.cert)
    assert.equal(cutVsOrigin.authorized, false)

    // curl agrees: the passthrough host verifies with the origin's certificate only, the other with the CA only.
    const ok = await curl(['--cacert', cert.certPath, '-x', fwd.proxy, `https://localhost:${port}/pass`])
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(ok.stdout, 'origin /pass')
    const wrongCa = await curl([
      '--cacert',
      join(caDir, 'ca.pem'),
      '-x',
      fwd.proxy,
      `https://localhost:${port}/`,
    ])
    assert.equal(wrongCa.code, 60, wrongCa.stderr)
    const intercepted = await curl([
      '--cacert',
      join(caDir, 'ca.pem'),
      '-x',
      fwd.proxy,
      `https://127.0.0.1:${port}/cut`,
    ])
    assert.equal(intercepted.code, 0, intercepted.stderr)
    assert.equal(intercepted.stdout, 'origin /cut')

    // Only the intercepted host's request became a mitm Session; the passthrough tunnel is a CONNECT alone.
    assert.ok(await waitFor(() => logged.filter((s) => s.source === 'mitm').length === 1))
    const inner = logged.filter((s) => s.source === 'mitm')
    assert.deepEqual(
      inner.map((s) => [s.destination?.host, s.head.target]),
      [['127.0.0.1', '/cut']],
    )
    assert.ok(await waitFor(() => fwd.gw.stats().connections === 0), 'no connection left')
    assert.ok(
      logged
        .filter((s) => s.method === 'CONNECT' && s.destination?.host === 'localhost')
        .every((s) => s.status === 200),
    )
  },
)
