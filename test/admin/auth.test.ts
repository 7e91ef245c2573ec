/**
 * Who may use the admin listener: beyond loopback without a token the
 * gateway refuses to start (a configuration error naming the key, from
 * `portcullis check` and `start` alike); with a token, a missing or wrong
 * one is 401 with a Bearer challenge and the right one (or any named token)
 * is 200; probes need none; tokens never reach the log.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createGateway } from '../../src/server/gateway.ts'
import { runCli, startCli, withTempDir, killAfter } from '../cli/run-cli.ts'
import { startGateway } from '../helpers/gateway.ts'

const TOKEN = 'auth-test-token-0123456789abcdef'
const OPS = 'ops-token-0123456789abcdefghij'

describe('admin authentication', () => {
  it('beyond loopback without a token: refused at startup with the key and place', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'gateway.yaml')
      await writeFile(file, 'listen: [{ address: 127.0.0.1:0 }]\nadmin:\n  address: 0.0.0.0:0\n')
      const started = await runCli(['start', '-c', file])
      assert.equal(started.code, 1)
      assert.match(
        started.stderr,
        /gateway\.yaml:3:\d+ admin\.address: the admin listener binds 0\.0\.0\.0, beyond loopback: set admin\.token/,
      )
      assert.doesNotMatch(started.stderr, /listening/)
      const checked = await runCli(['check', '-c', file])
      assert.equal(checked.code, 1)
    })
    await assert.rejects(
      createGateway({ admin: { address: '0.0.0.0:0' }, routes: [{ respond: { body: 'x' } }] }),
      /admin\.address: the admin listener binds 0\.0\.0\.0, beyond loopback/,
    )
  })

  it('beyond loopback with a token: starts; 401 without or with a wrong token, 200 with it', async (t) => {
    const gw = await startGateway(
      {
        admin: { address: '0.0.0.0:0', token: TOKEN, tokens: { ops: OPS } },
        routes: [{ respond: { body: 'x' } }],
      },
      { t },
    )
    const base = `http://127.0.0.1:${gw.gw.admin!.server!.address().port}`
    const missing = await fetch(`${base}/api/version`)
    assert.equal(missing.status, 401)
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="portcullis-admin"')
    assert.deepEqual(await missing.json(), {
      error: 'UNAUTHENTICATED',
      message: 'a valid bearer token is required',
    })
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } })
    assert.equal(wrong.status, 401)
    assert.equal(
      wrong.headers.get('www-authenticate'),
      'Bearer realm="portcullis-admin", error="invalid_token"',
    )
    const basic = await fetch(`${base}/metrics`, {
      headers: { authorization: `Basic ${btoa(`a:${TOKEN}`)}` },
    })
    assert.equal(basic.status, 401)
    for (const token of [TOKEN, OPS]) {
      const ok = await fetch(`${base}/api/version`, { headers: { authorization: `Bearer ${token}` } })
      assert.equal(ok.status, 200)
    }
    // Probes need no token.
    assert.equal((await fetch(`${base}/healthz`)).status, 200)
    assert.equal((await fetch(`${base}/readyz`)).status, 200)
  })

  it('a configured token is required on loopback too; actions are logged with who asked, never a token', async (t) => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'gateway.yaml')
      await writeFile(
        file,
        [
          'listen: [{ address: 127.0.0.1:0 }]',
          `admin: { address: 127.0.0.1:0, tokens: { ops: ${OPS} } }`,
          'routes: [{ respond: { body: x } }]',
          '',
        ].join('\n'),
      )
      const cli = startCli(['start', '-c', file])
      killAfter(t, cli)
      const [, admin] = await cli.waitForStderr(
        /portcullis admin listening on (http:\/\/127\.0\.0\.1:\d+)/,
        0,
        20_000,
      )
      const res = await fetch(`${admin}/api/reload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${OPS}` },
      })
      assert.equal(res.status, 200)
      await cli.waitForStderr(
        /portcullis admin: POST \/api\/reload by token ops from 127\.0\.0\.1:\d+: 200/,
        0,
        5_000,
      )
      assert.equal(
        (await fetch(`${admin}/api/version`)).status,
        401,
        'a configured token is required even on loopback',
      )
      cli.child.kill('SIGTERM')
      assert.equal(await cli.exited, 0)
      assert.doesNotMatch(cli.stderr() + cli.stdout(), new RegExp(OPS))
    })
  })
})
