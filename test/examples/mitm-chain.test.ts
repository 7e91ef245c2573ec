/**
 * examples/mitm-chain.yaml serves what its comments promise: loaded as
 * `portcullis start` would, the listener moved to port 0, the CA to a fresh
 * one, the parent proxy's address to a CONNECT proxy in the test (its
 * credentials kept) that sends every tunnel to a local HTTPS origin, whose
 * private CA is trusted through mitm.upstreamCa. A host under
 * *.internal.example is intercepted (curl trusts our CA) and reached through
 * the parent; another is tunnelled through it.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { loadConfig } from '../../src/config/load.ts'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { createGateway } from '../../src/server/gateway.ts'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { startConnectProxy } from '../helpers/connect-proxy.ts'
import { curl } from '../helpers/forward.ts'
import { startHttpsOrigin } from '../helpers/https-origin.ts'

test(
  'examples/mitm-chain.yaml: intercepted and tunnelled hosts both reach their origin through the parent',
  { skip: !(await hasOpenssl()) && 'needs openssl' },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-example-chain-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    await createCa(join(dir, 'ca'))
    // The origin's certificate names the intercepted host (its own CA, as a private origin's would).
    const [certPath, keyPath] = [join(dir, 'origin.pem'), join(dir, 'origin-key.pem')]
    await promisify(execFile)('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=app.internal.example'],
      ...['-addext', 'subjectAltName=DNS:app.internal.example', '-keyout', keyPath, '-out', certPath],
    ])
    const origin = await startHttpsOrigin(
      t,
      (req, res) => res.end(`origin ${req.url} host=${req.headers.host}`),
      { cert: await readFile(certPath), key: await readFile(keyPath) },
    )
    const parent = await startConnectProxy(t, { port: origin.port })

    const loaded = await loadConfig(join(import.meta.dirname, '..', '..', 'examples', 'mitm-chain.yaml'))
    assert.ok(loaded.ok)
    const config = loaded.config
    const fwd = config.forward!
    fwd.address = { host: '127.0.0.1', port: 0 }
    fwd.mitm!.caDir = join(dir, 'ca')
    fwd.mitm!.upstreamCa = certPath
    const proxy = new URL(fwd.chain[0]!.proxy)
    proxy.host = new URL(parent.url).host
    fwd.chain[0]!.proxy = proxy.href
    const gw = await createGateway(config)
    t.after(() => gw.close({ drainTimeout: 0 }))
    await gw.listen()
    const local = `http://127.0.0.1:${gw.addresses()[0]!.port}`

    const r = await curl([
      '--cacert',
      join(dir, 'ca', 'ca.pem'),
      '-x',
      local,
      'https://app.internal.example/x',
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'origin /x host=app.internal.example')
    const basic = `Basic ${Buffer.from('portcullis:s3cret').toString('base64')}`
    assert.deepEqual(parent.connects, [{ target: 'app.internal.example:443', auth: basic }])
    // Not intercepted: the origin's own certificate reaches curl through the tunnel.
    const tunnelled = await curl(['--cacert', certPath, '-x', local, 'https://other.example/'])
    assert.equal(tunnelled.code, 60, 'the origin certificate names app.internal.example, not other.example')
    assert.deepEqual(parent.connects.at(-1), { target: 'other.example:443', auth: basic })
  },
)
