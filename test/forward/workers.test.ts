/**
 * The forward listener with `workers: 2` (`portcullis start`): with
 * round-robin accept, consecutive connections go to alternate workers; each
 * worker loads the CA itself and makes its own leaves (so two leaves for one
 * host prove both served), and plain forwarding and interception answer on
 * every connection.
 * Everything started is killed at the end, even on failure.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { startCli, withTempDir, killAfter } from '../cli/run-cli.ts'
import { hasOpenssl, makeSelfSigned } from '../fixtures/self-signed.ts'
import { curl } from '../helpers/forward.ts'
import { startOrigin } from '../helpers/gateway.ts'
import { startHttpsOrigin } from '../helpers/https-origin.ts'

const skip = !(await hasOpenssl()) && 'needs openssl'

/** freePort: a port free right now (the forward address is given, not 0, so both workers share it). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

test('forward proxy and interception with workers: 2, both workers serving', { skip }, async (t) => {
  await withTempDir(async (dir) => {
    await createCa(join(dir, 'ca'))
    const cert = await makeSelfSigned(dir)
    const { port: securePort } = await startHttpsOrigin(t, (_req, res) => res.end(`pid-${process.pid}`), cert)
    const origin = await startOrigin(undefined, { t })
    const port = await freePort()
    const file = join(dir, 'gateway.yaml')
    await writeFile(
      file,
      `workers: 2
supervisor: { accept: round-robin }
listen: []
forward:
  address: 127.0.0.1:${port}
  allow: [127.0.0.1, localhost]
  mitm: { caDir: ${join(dir, 'ca')}, hosts: [localhost], upstreamCa: ${cert.certPath} }
`,
    )
    const cli = startCli(['start', '-c', file])
    killAfter(t, cli)
    await cli.waitForStderr(/forward proxy listening on http:\/\/127\.0\.0\.1:\d+/, 0, 30_000)
    const proxy = `http://127.0.0.1:${port}`
    // Four intercepted connections in a row: two per worker, and each worker presents its own leaf.
    const leaves = new Set<string>()
    for (let i = 0; i < 4; i++) {
      const inside = await curl([
        '--cacert',
        join(dir, 'ca', 'ca.pem'),
        '-x',
        proxy,
        '-w',
        '\n%{certs}',
        `https://localhost:${securePort}/`,
      ])
      assert.equal(inside.code, 0, inside.stderr)
      assert.ok(inside.stdout.startsWith(`pid-${process.pid}\n`), inside.stdout)
      leaves.add(/-----BEGIN CERTIFICATE-----[^-]+/.exec(inside.stdout)?.[0] ?? '')
    }
    assert.equal(leaves.size, 2, 'two workers, two leaves for localhost')
    const statuses: string[] = []
    for (let i = 0; i < 4; i++) {
      const plain = await curl([
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-x',
        proxy,
        `${origin.url}/p${i}`,
      ])
      statuses.push(plain.stdout)
    }
    assert.deepEqual(statuses, ['200', '200', '200', '200'])
  })
})
