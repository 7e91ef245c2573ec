import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli, withTempDir } from './run-cli.ts'

const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
}

describe('portcullis (global)', () => {
  it('--version prints the package version and exits 0', async () => {
    const r = await runCli(['--version'])
    assert.equal(r.code, 0)
    assert.equal(r.stdout, `${pkg.version}\n`)
  })

  it('--help lists every command on stdout and exits 0', async () => {
    const r = await runCli(['--help'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^Usage: portcullis COMMAND/)
    for (const name of ['start', 'proxy', 'check', 'reload', 'forward', 'ca'])
      assert.match(r.stdout, new RegExp(`\\n  ${name} `))
  })

  it('no arguments prints the usage on stderr and exits 1', async () => {
    const r = await runCli([])
    assert.equal(r.code, 1)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^Usage: portcullis COMMAND/)
  })

  it('COMMAND --help and help COMMAND print that command’s usage and exit 0', async () => {
    for (const args of [
      ['start', '--help'],
      ['help', 'start'],
      ['start', '-h', '--bogus'],
    ]) {
      const r = await runCli(args)
      assert.equal(r.code, 0, args.join(' '))
      assert.match(r.stdout, /^Usage: portcullis start --config FILE/)
    }
    const proxy = await runCli(['proxy', '--help'])
    assert.match(proxy.stdout, /^Usage: portcullis proxy /)
  })

  it('an unknown command is a usage error with a suggestion (exit 1)', async () => {
    const r = await runCli(['strat'])
    assert.equal(r.code, 1)
    assert.equal(
      r.stderr,
      "portcullis: unknown command 'strat' — did you mean 'start'?\nRun 'portcullis --help' for usage.\n",
    )
  })

  it('an unknown flag is a usage error (exit 1)', async () => {
    const r = await runCli(['check', '--confg', 'x.yaml'])
    assert.equal(r.code, 1)
    assert.equal(
      r.stderr,
      "portcullis check: unknown option '--confg'\nRun 'portcullis check --help' for usage.\n",
    )
  })

  it('a malformed --workers is a usage error (exit 1)', async () => {
    const r = await runCli(['start', '-c', 'x.yaml', '--workers', 'many'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /--workers must be a positive integer or 'auto', got 'many'/)
  })

  it('proxy rejects bad targets naming the flag (exit 1)', async () => {
    const r = await runCli(['proxy', '--from', '127.0.0.1:0', '--to', 'http://127.0.0.1:3001,ftp://files'])
    assert.equal(r.code, 1)
    assert.equal(r.stderr, 'portcullis proxy: --to ftp://files: must be an http:// or https:// URL\n')
    const noTo = await runCli(['proxy', '--from', '127.0.0.1:0'])
    assert.equal(noTo.code, 1)
    assert.match(noTo.stderr, /^portcullis proxy: missing --to URL\n/)
  })

  it('start with an invalid configuration prints the problems and exits 1', async () => {
    await withTempDir(async (dir) => {
      await writeFile(
        join(dir, 'gateway.yaml'),
        'listen:\n  - address: 127.0.0.1:0\nroutes:\n  - upstream: api\n',
      )
      const r = await runCli(['start', '-c', 'gateway.yaml'], { cwd: dir })
      assert.equal(r.code, 1)
      assert.equal(r.stderr, "gateway.yaml:4:15 routes.0.upstream: unknown upstream 'api'\n")
    })
  })
})
