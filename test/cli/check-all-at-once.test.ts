/**
 * `portcullis check` tells everything in one run, once each: filesystem
 * problems beside schema problems, a port out of range as such, one line
 * for one misspelt key, and a warning for a file that routes nothing.
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli, withTempDir } from './run-cli.ts'

function lines(text: string): string[] {
  return text.split('\n').filter(Boolean)
}

describe('portcullis check, everything at once', () => {
  it('reports missing files together with schema problems', async () => {
    await withTempDir(async (dir) => {
      await mkdir(join(dir, 'public'))
      await writeFile(join(dir, 'not-a-dir'), 'x')
      await writeFile(
        join(dir, 'g.yaml'),
        [
          'listen:',
          '  - address: 127.0.0.1:8443',
          '    tls: { cert: ./cert.pem, key: ./key.pem }',
          'upstreams:',
          '  app:',
          '    targets: [{ url: https://127.0.0.1:3443 }]',
          '    tls: { ca: ./ca.pem }',
          'routes:',
          '  - static: { root: ./missing }',
          '  - static: { root: ./not-a-dir }',
          '  - upstream: app',
          '    timeout: soon',
          '    colour: blue',
          '',
        ].join('\n'),
      )
      const r = await runCli(['check', '-c', 'g.yaml'], { cwd: dir })
      assert.equal(r.code, 1)
      assert.deepEqual(lines(r.stderr), [
        `g.yaml:3:18 listen.0.tls.cert: cannot read ${join(dir, 'cert.pem')} (ENOENT)`,
        `g.yaml:3:35 listen.0.tls.key: cannot read ${join(dir, 'key.pem')} (ENOENT)`,
        `g.yaml:7:16 upstreams.app.tls.ca: cannot read ${join(dir, 'ca.pem')} (ENOENT)`,
        `g.yaml:9:21 routes.0.static.root: cannot read ${join(dir, 'missing')} (ENOENT)`,
        `g.yaml:10:21 routes.1.static.root: ${join(dir, 'not-a-dir')} is not a directory`,
        'g.yaml:12:14 routes.2.timeout: invalid duration "soon" (use e.g. 250ms, 5s, 2m)',
        "g.yaml:13:5 routes.2.colour: unknown key 'colour'",
      ])
    })
  })

  it('says a port is out of range, in a file and on the proxy command line', async () => {
    await withTempDir(async (dir) => {
      await writeFile(
        join(dir, 'g.yaml'),
        'listen:\n  - address: 127.0.0.1:70000\nupstreams:\n  app:\n    targets: [{ url: http://localhost:99999 }]\nroutes:\n  - upstream: app\n',
      )
      const r = await runCli(['check', '-c', 'g.yaml'], { cwd: dir })
      assert.equal(r.code, 1)
      assert.deepEqual(lines(r.stderr), [
        'g.yaml:2:14 listen.0.address: port 70000 is out of range (0-65535)',
        'g.yaml:5:22 upstreams.app.targets.0.url: port 99999 is out of range (1-65535)',
      ])
    })
    const p = await runCli(['proxy', '--from', '127.0.0.1:0', '--to', 'localhost:99999'])
    assert.equal(p.code, 1)
    assert.equal(
      p.stderr,
      'portcullis proxy: --to http://localhost:99999: port 99999 is out of range (1-65535)\n',
    )
  })

  it('gives one line for one misspelt key', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'g.yaml'), 'listen:\n  - adress: 127.0.0.1:8080\n')
      const r = await runCli(['check', '-c', 'g.yaml'], { cwd: dir })
      assert.equal(r.code, 1)
      assert.deepEqual(lines(r.stderr), [
        "g.yaml:2:5 listen.0.adress: unknown key 'adress' — did you mean 'address'?",
      ])
    })
  })

  it('warns about an empty file and about one with no routes, and still exits 0', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'empty.yaml'), '# nothing yet\n')
      await writeFile(join(dir, 'bare.yaml'), 'listen:\n  - address: 127.0.0.1:8080\n')
      const empty = await runCli(['check', '-c', 'empty.yaml'], { cwd: dir })
      assert.equal(empty.code, 0)
      assert.equal(empty.stdout, 'empty.yaml: ok (1 warning)\n')
      assert.match(empty.stderr, /^empty\.yaml: warning: the file is empty; the defaults apply: .*no routes/)
      const bare = await runCli(['check', '-c', 'bare.yaml'], { cwd: dir })
      assert.equal(bare.code, 0)
      assert.equal(bare.stdout, 'bare.yaml: ok (1 warning)\n')
      assert.equal(
        bare.stderr,
        'bare.yaml: warning: no routes: every request will be answered 404 (add one under routes:)\n',
      )
    })
  })
})
