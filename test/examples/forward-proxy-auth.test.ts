/**
 * examples/forward-proxy-auth.yaml serves what its comments promise: loaded
 * as `portcullis start` would, the listener moved to port 0, the CA to a
 * fresh one, then driven with curl. Without credentials, or with wrong
 * ones, an absolute-form request and a CONNECT are both answered 407 with
 * the Basic challenge; with the example's user and password, 200, the
 * credentials not forwarded. The test adds (config overrides, as the
 * listener's port): 127.0.0.1 to `allow`, since its origins are on loopback;
 * the HTTPS origin's self-signed certificate as mitm.upstreamCa, so the
 * intercepted request can verify it; and `localhost` to mitm.passthrough,
 * standing for the example's pinned hosts, which do not resolve here.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import { createGateway } from '../../src/server/gateway.ts'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { curl } from '../helpers/forward.ts'
import { startOrigin } from '../helpers/gateway.ts'
import { mitmFixture } from '../helpers/https-origin.ts'

const CHALLENGE = /\r\nproxy-authenticate: Basic realm="dev proxy", charset="UTF-8"\r\n/i

test(
  'examples/forward-proxy-auth.yaml: 407 with the challenge without credentials, 200 with them, pinned hosts tunnelled',
  { skip: !(await hasOpenssl()) && 'needs openssl', timeout: 120_000 },
  async (t) => {
    const {
      caDir,
      cert,
      port: tlsPort,
    } = await mitmFixture(t, (req, res) =>
      res.end(`tls origin ${req.url} proxy-authorization=${req.headers['proxy-authorization'] ?? 'none'}`),
    )
    const plain = await startOrigin(undefined, { t })

    const loaded = await loadConfig(
      join(import.meta.dirname, '..', '..', 'examples', 'forward-proxy-auth.yaml'),
    )
    assert.ok(loaded.ok)
    const fwd = loaded.config.forward!
    assert.deepEqual(fwd.mitm!.passthrough, ['updates.pinned.example', '*.bank.example'])
    fwd.address = { host: '127.0.0.1', port: 0 }
    fwd.allow = ['127.0.0.1']
    fwd.mitm!.caDir = caDir
    fwd.mitm!.upstreamCa = cert.certPath
    fwd.mitm!.passthrough = [...fwd.mitm!.passthrough, 'localhost']
    const gw = await createGateway(loaded.config)
    t.after(() => gw.close({ drainTimeout: 0 }))
    await gw.listen()
    const proxy = `http://127.0.0.1:${gw.addresses()[0]!.port}`
    const user = ['-U', 'dev:demo password']
    const ours = join(caDir, 'ca.pem')

    // Absolute-form: no credentials, wrong ones, right ones.
    const none = await curl(['-i', '-x', proxy, `${plain.url}/a`])
    assert.match(none.stdout, /^HTTP\/1\.1 407/)
    assert.match(none.stdout, CHALLENGE)
    assert.match(none.stdout, /code: PROXY_AUTH_REQUIRED/)
    const wrong = await curl(['-i', '-U', 'dev:not it', '-x', proxy, `${plain.url}/a`])
    assert.match(wrong.stdout, /^HTTP\/1\.1 407/)
    assert.match(wrong.stdout, CHALLENGE)
    assert.equal(plain.requests.length, 0, 'refused requests never reach the origin')
    const ok = await curl(['-i', ...user, '-x', proxy, `${plain.url}/a`])
    assert.match(ok.stdout, /^HTTP\/1\.1 200/)
    assert.match(ok.stdout, /\r\n\r\nok$/)
    assert.equal(plain.requests.length, 1)
    assert.equal(plain.requests[0]!.headers['proxy-authorization'], undefined, 'never forwarded')

    // CONNECT: refused the same way before any tunnel (curl: 56, the proxy's answer in its trace).
    for (const creds of [[], ['-U', 'dev:not it']]) {
      const refused = await curl([
        '-v',
        ...creds,
        '--cacert',
        ours,
        '-x',
        proxy,
        `https://127.0.0.1:${tlsPort}/`,
      ])
      assert.equal(refused.code, 56, refused.stderr)
      assert.match(refused.stderr, /< HTTP\/1\.1 407/)
      assert.match(refused.stderr, /^< Proxy-Authenticate: Basic realm="dev proxy", charset="UTF-8"\r?$/im)
    }
    // With credentials: 127.0.0.1 matches hosts ['*'], intercepted with a leaf from our CA.
    const inside = await curl([...user, '--cacert', ours, '-x', proxy, `https://127.0.0.1:${tlsPort}/b`])
    assert.equal(inside.code, 0, inside.stderr)
    assert.equal(inside.stdout, 'tls origin /b proxy-authorization=none')

    // A passthrough host: tunnelled untouched, curl trusts only the origin's own certificate.
    const pinned = await curl([
      ...user,
      '--cacert',
      cert.certPath,
      '-x',
      proxy,
      `https://localhost:${tlsPort}/c`,
    ])
    assert.equal(pinned.code, 0, pinned.stderr)
    assert.equal(pinned.stdout, 'tls origin /c proxy-authorization=none')
    const notOurs = await curl([...user, '--cacert', ours, '-x', proxy, `https://localhost:${tlsPort}/c`])
    assert.equal(notOurs.code, 60, 'the tunnelled host presents the origin certificate, not a leaf of ours')
    // A tunnel still needs the credentials.
    const tunnelNone = await curl(['--cacert', cert.certPath, '-x', proxy, `https://localhost:${tlsPort}/c`])
    assert.equal(tunnelNone.code, 56, tunnelNone.stderr)
  },
)
