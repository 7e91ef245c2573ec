/**
 * `--help` describes the commands as they are: `forward` and `ca` are built,
 * and their help names the flags CONTRACT.md promises, with nothing said to
 * be missing.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runCli } from './run-cli.ts'

describe('--help of forward and ca', () => {
  it('portcullis forward --help names its flags and where the rest is configured', async () => {
    const r = await runCli(['forward', '--help'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^Usage: portcullis forward /)
    for (const flag of ['--listen HOST:PORT', '--mitm', '--ca-dir DIR', '--allow HOST[:PORT]'])
      assert.ok(r.stdout.includes(flag), flag)
    assert.match(r.stdout, /forward:\nsection/)
    assert.doesNotMatch(r.stdout, /not (yet )?(built|implemented)|coming soon/i)
  })

  it('portcullis ca --help names init and show, and both run', async () => {
    const r = await runCli(['ca', '--help'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^Usage: portcullis ca init\|show \[--dir DIR\]/)
    assert.match(r.stdout, /\n {2}init {3}create the CA/)
    assert.match(r.stdout, /\n {2}show {3}print the CA certificate/)
    assert.doesNotMatch(r.stdout, /not (yet )?(built|implemented)|coming soon/i)
    const main = await runCli(['--help'])
    assert.match(main.stdout, /\n {2}forward +quick forward proxy/)
    assert.match(main.stdout, /\n {2}ca +create or print the local CA/)
  })
})
