import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli, withTempDir } from './run-cli.ts'

const VALID = `listen:
  - address: 127.0.0.1:8080
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
        weight: 2
      - url: http://127.0.0.1:3002
routes:
  - match: { path: /v1, methods: [GET, POST] }
    upstream: api
timeouts:
  drain: 5s
`

const SEVERAL_PROBLEMS = `listen:
  - address: 127.0.0.1:8080
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
        wieght: 2
routes:
  - match: { path: /v1 }
    upstream: apu
limits:
  maxHeaders: lots
timeouts:
  drain: forever
`

describe('portcullis check', () => {
  it('accepts a valid file: exit 0 and "FILE: ok"', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'gateway.yaml'), VALID)
      const r = await runCli(['check', '--config', 'gateway.yaml'], { cwd: dir })
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout, 'gateway.yaml: ok\n')
      assert.equal(r.stderr, '')
    })
  })

  it('reports every problem with FILE:LINE:COL key.path: message and exits 1', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'gateway.yaml'), SEVERAL_PROBLEMS)
      const r = await runCli(['check', '-c', 'gateway.yaml'], { cwd: dir })
      assert.equal(r.code, 1)
      assert.equal(r.stdout, '')
      assert.deepEqual(r.stderr.trimEnd().split('\n'), [
        "gateway.yaml:7:9 upstreams.api.targets.0.wieght: unknown key 'wieght' — did you mean 'weight'?",
        "gateway.yaml:10:15 routes.0.upstream: unknown upstream 'apu' — did you mean 'api'?",
        'gateway.yaml:12:15 limits.maxHeaders: expected a number, got "lots"',
        'gateway.yaml:14:10 timeouts.drain: invalid duration "forever" (use e.g. 250ms, 5s, 2m)',
      ])
    })
  })

  it('reports a YAML syntax error with its position', async () => {
    await withTempDir(async (dir) => {
      await writeFile(
        join(dir, 'broken.yaml'),
        'listen:\n  - address: 127.0.0.1:8080\nroutes: [\n  { upstream: api\n',
      )
      const r = await runCli(['check', '-c', 'broken.yaml'], { cwd: dir })
      assert.equal(r.code, 1)
      const lines = r.stderr.trimEnd().split('\n')
      assert.ok(lines.length >= 1)
      for (const line of lines) assert.match(line, /^broken\.yaml:\d+:\d+ syntax error: /)
    })
  })

  it('points at a duplicated key', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'dup.yaml'), 'routes: []\nlimits: {}\nroutes: []\n')
      const r = await runCli(['check', '-c', 'dup.yaml'], { cwd: dir })
      assert.equal(r.code, 1)
      assert.equal(r.stderr, 'dup.yaml:3:1 syntax error: map keys must be unique\n')
    })
  })

  it('validates a JSON configuration file', async () => {
    await withTempDir(async (dir) => {
      const config = {
        listen: [{ address: '127.0.0.1:8080' }],
        upstreams: { api: { targets: [{ url: 'http://127.0.0.1:3001' }] } },
        routes: [{ upstream: 'api' }],
      }
      await writeFile(join(dir, 'good.json'), JSON.stringify(config, null, 2))
      const ok = await runCli(['check', '-c', 'good.json'], { cwd: dir })
      assert.equal(ok.code, 0, ok.stderr)
      assert.equal(ok.stdout, 'good.json: ok\n')

      await writeFile(
        join(dir, 'bad.json'),
        '{\n  "listen": [{ "address": "127.0.0.1:8080" }],\n  "route": []\n}\n',
      )
      const bad = await runCli(['check', '-c', 'bad.json'], { cwd: dir })
      assert.equal(bad.code, 1)
      assert.equal(bad.stderr, "bad.json:3:3 route: unknown key 'route' — did you mean 'routes'?\n")
    })
  })

  it('interpolates the environment, and an unset variable is a problem', async () => {
    await withTempDir(async (dir) => {
      const text = 'listen:\n  - address: ${GW_PORT}\nlimits:\n  maxHeaders: ${GW_MAX_HEADERS:-64}\n'
      await writeFile(join(dir, 'env.yaml'), text)
      const set = await runCli(['check', '-c', 'env.yaml'], { cwd: dir, env: { GW_PORT: '9000' } })
      assert.equal(set.code, 0, set.stderr)

      const unset = await runCli(['check', '-c', 'env.yaml'], { cwd: dir, env: { GW_PORT: undefined } })
      assert.equal(unset.code, 1)
      assert.equal(unset.stderr, 'env.yaml:2:14 listen.0.address: environment variable GW_PORT is not set\n')
    })
  })

  it('reports every problem of every included file, each under its own name, main file first', async () => {
    await withTempDir(async (dir) => {
      await mkdir(join(dir, 'conf', 'routes'), { recursive: true })
      await writeFile(
        join(dir, 'conf/gateway.yaml'),
        'include: routes/*.yaml\nupstreams:\n  api:\n    targets: [{ url: http://127.0.0.1:3001 }]\nlimts: {}\n',
      )
      await writeFile(join(dir, 'conf/routes/b.yaml'), 'routes:\n  - upstream: ${GW_UNSET}\n')
      await writeFile(
        join(dir, 'conf/routes/a.yaml'),
        'upstreams:\n  api:\n    targets: [{ url: http://127.0.0.1:3002 }]\nroutes:\n  - upstream: apii\n',
      )
      const r = await runCli(['check', '-c', 'conf/gateway.yaml'], { cwd: dir, env: { GW_UNSET: undefined } })
      assert.equal(r.code, 1)
      assert.deepEqual(r.stderr.trimEnd().split('\n'), [
        "conf/gateway.yaml:3:3 upstreams.api: 'api' is defined more than once (also at conf/routes/a.yaml:2:3)",
        "conf/gateway.yaml:5:1 limts: unknown key 'limts' — did you mean 'limits'?",
        "conf/routes/a.yaml:2:3 upstreams.api: 'api' is defined more than once (also at conf/gateway.yaml:3:3)",
        "conf/routes/a.yaml:5:15 routes.0.upstream: unknown upstream 'apii' — did you mean 'api'?",
        'conf/routes/b.yaml:2:15 routes.0.upstream: environment variable GW_UNSET is not set',
      ])
    })
  })

  it('reports a file that cannot be read', async () => {
    await withTempDir(async (dir) => {
      const r = await runCli(['check', '-c', 'missing.yaml'], { cwd: dir })
      assert.equal(r.code, 1)
      assert.match(r.stderr, /^missing\.yaml cannot read the configuration file: ENOENT/)
    })
  })

  it('needs --config', async () => {
    const r = await runCli(['check'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^portcullis check: missing --config FILE\n/)
  })

  it('leaves the file untouched', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'gateway.yaml'), VALID)
      await runCli(['check', '-c', 'gateway.yaml'], { cwd: dir })
      assert.equal(await readFile(join(dir, 'gateway.yaml'), 'utf8'), VALID)
    })
  })
})
