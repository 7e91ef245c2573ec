/**
 * examples/forward.yaml serves what its comments promise: loaded as
 * `portcullis start` would, listeners moved to port 0 and the CA to a fresh
 * one, then driven with curl through the forward proxy while the reverse
 * listener answers beside it; and its intercepted-HTTPS line against a
 * local HTTPS origin on `localhost`.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { createGateway } from '../../src/server/gateway.ts'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { curl } from '../helpers/forward.ts'
import { startOrigin } from '../helpers/gateway.ts'
import { mitmFixture } from '../helpers/https-origin.ts'

test('examples/forward.yaml: reverse and forward in one process, allow and deny as commented', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-example-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await createCa(join(dir, 'ca'))
  const loaded = await loadConfig(join(import.meta.dirname, '..', '..', 'examples', 'forward.yaml'))
  assert.ok(loaded.ok)
  const config = loaded.config
  config.listen[0]!.address = { host: '127.0.0.1', port: 0 }
  config.forward!.address = { host: '127.0.0.1', port: 0 }
  config.forward!.mitm!.caDir = join(dir, 'ca')
  const gw = await createGateway(config)
  t.after(() => gw.close({ drainTimeout: 0 }))
  await gw.listen()
  const [reverse, forward] = gw.addresses()
  assert.equal(forward!.forward, true)
  const proxy = `http://127.0.0.1:${forward!.port}`
  const origin = await startOrigin(undefined, { t })

  assert.equal((await curl([`http://127.0.0.1:${reverse!.port}/healthz`])).stdout, 'ok\n')
  assert.equal((await curl(['-x', proxy, `${origin.url}/`])).stdout, 'ok')
  // forward.route: the header module answers on forward requests too.
  assert.match(
    (await curl(['-x', proxy, '-i', `${origin.url}/`])).stdout,
    /\r\nx-proxied-by: portcullis\r\n/i,
  )
  assert.match((await curl(['-x', proxy, '-i', `http://[::1]:${origin.port}/`])).stdout, /^HTTP\/1\.1 403/)
  const denied = await curl(['-x', proxy, '-i', 'http://tracker.ads.example/'])
  assert.match(denied.stdout, /^HTTP\/1\.1 403/)
  assert.match(denied.stdout, /code: DESTINATION_FORBIDDEN/)
})

test(
  'examples/forward.yaml: https://localhost is intercepted with a leaf from the CA, as commented',
  { skip: !(await hasOpenssl()) && 'needs openssl', timeout: 120_000 },
  async (t) => {
    // The local HTTPS origin (3443 in the comments; port 0 here), its certificate self-signed for localhost.
    const { dir, cert, port } = await mitmFixture(t, (req, res) =>
      res.end(`secure origin ${req.url} host=${req.headers.host}`),
    )
    const loaded = await loadConfig(join(import.meta.dirname, '..', '..', 'examples', 'forward.yaml'))
    assert.ok(loaded.ok)
    const config = loaded.config
    config.listen[0]!.address = { host: '127.0.0.1', port: 0 }
    config.forward!.address = { host: '127.0.0.1', port: 0 }
    config.forward!.mitm!.caDir = join(dir, 'ca')
    // The gateway verifies the origin's certificate (system CAs by default); this
    // self-signed one is trusted as the example's commented `upstreamCa` line says.
    config.forward!.mitm!.upstreamCa = cert.certPath
    const gw = await createGateway(config)
    t.after(() => gw.close({ drainTimeout: 0 }))
    await gw.listen()
    const proxy = `http://127.0.0.1:${gw.addresses().find((a) => a.forward)!.port}`
    const ca = join(dir, 'ca', 'ca.pem')

    // curl trusts only our CA: the leaf for localhost is ours; the request reached the origin, forward.route ran.
    const r = await curl(['--cacert', ca, '-x', proxy, '-D', '-', `https://localhost:${port}/page`])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /\r\nx-proxied-by: portcullis\r\n/i)
    assert.ok(r.stdout.endsWith(`\r\n\r\nsecure origin /page host=localhost:${port}`), r.stdout)
    // Without the CA, curl refuses the leaf (60: not trusted).
    const untrusted = await curl(['-x', proxy, `https://localhost:${port}/page`])
    assert.equal(untrusted.code, 60, untrusted.stderr)
  },
)
