import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { type AddressInfo, createServer as createTcpServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, startCli, withTempDir } from './run-cli.ts'

// These tests drive the real gateway; they run once src/server/gateway.ts exists.
const gatewayMissing = !existsSync(new URL('../../src/server/gateway.ts', import.meta.url))
const skip = gatewayMissing ? 'src/server/gateway.ts has not landed yet' : false

const LISTENING = /portcullis listening on (http:\/\/127\.0\.0\.1:(\d+))\n/

let origin: Server
let originUrl: string
/** Requests the origin holds open until released, to observe draining. */
const held: (() => void)[] = []

before(async () => {
  origin = createServer((req, res) => {
    const reply = () => res.end(`origin saw ${req.method} ${req.url}`)
    if (req.url === '/slow') held.push(reply)
    else reply()
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
})
after(() => origin.close())

function gatewayYaml(port: number | string, routes: string): string {
  return `listen:\n  - address: 127.0.0.1:${port}\nupstreams:\n  app:\n    targets:\n      - url: ${originUrl}\nroutes:\n${routes}`
}

describe('portcullis start', { skip }, () => {
  it('serves, refuses an invalid reload, applies a valid one, drains on SIGTERM and exits 0', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'gateway.yaml')
      await writeFile(file, gatewayYaml(0, '  - upstream: app\n'))
      const cli = startCli(['start', '--config', 'gateway.yaml'], { cwd: dir })
      const [, url, port] = await cli.waitForStderr(LISTENING)
      assert.equal(await (await fetch(`${url}/hello`)).text(), 'origin saw GET /hello')

      await writeFile(file, gatewayYaml(port!, '  - upstream: ap\n'))
      let mark = cli.stderr().length
      cli.child.kill('SIGHUP')
      await cli.waitForStderr(/reload refused; keeping the running configuration\n/, mark)
      assert.match(
        cli.stderr().slice(mark),
        /gateway\.yaml:8:15 routes\.0\.upstream: unknown upstream 'ap' — did you mean 'app'\?/,
      )
      assert.equal(await (await fetch(`${url}/still`)).text(), 'origin saw GET /still')

      await writeFile(file, gatewayYaml(port!, '  - respond: { status: 200, body: reloaded }\n'))
      mark = cli.stderr().length
      cli.child.kill('SIGHUP')
      await cli.waitForStderr(/configuration reloaded\n/, mark)
      assert.equal(await (await fetch(`${url}/any`)).text(), 'reloaded')

      await writeFile(file, gatewayYaml(port!, '  - upstream: app\n'))
      mark = cli.stderr().length
      cli.child.kill('SIGHUP')
      await cli.waitForStderr(/configuration reloaded\n/, mark)
      const inFlight = fetch(`${url}/slow`).then((r) => r.text())
      while (held.length === 0) await new Promise((r) => setTimeout(r, 10))
      cli.child.kill('SIGTERM')
      await cli.waitForStderr(/SIGTERM received; draining/)
      held.shift()!()
      assert.equal(await inFlight, 'origin saw GET /slow')
      assert.equal(await cli.exited, 0)
    })
  })

  it('exits 2 when the address is in use', async () => {
    const blocker = createTcpServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    try {
      await withTempDir(async (dir) => {
        const port = (blocker.address() as AddressInfo).port
        await writeFile(join(dir, 'gateway.yaml'), gatewayYaml(port, '  - upstream: app\n'))
        const r = await runCli(['start', '-c', 'gateway.yaml'], { cwd: dir })
        assert.equal(r.code, 2)
        assert.match(r.stderr, /EADDRINUSE|address already in use/i)
      })
    } finally {
      blocker.close()
    }
  })

  it('runs worker processes with --workers, which override the file, and stops them on SIGINT', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'gateway.yaml'), `workers: 3\n${gatewayYaml(0, '  - upstream: app\n')}`)
      const cli = startCli(['start', '-c', 'gateway.yaml', '--workers', '2'], { cwd: dir })
      const [, url] = await cli.waitForStderr(LISTENING, 0, 20_000)
      assert.equal(cli.stderr().match(/worker \d+ \(pid \d+\) listening/g)?.length, 2, cli.stderr())
      assert.equal(await (await fetch(`${url}/w`)).text(), 'origin saw GET /w')
      cli.child.kill('SIGINT')
      assert.equal(await cli.exited, 0)
    })
  })

  it('rejects a --workers that is not a positive integer or auto', async () => {
    const r = await runCli(['start', '-c', 'gateway.yaml', '--workers', '0'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /--workers must be a positive integer or 'auto', got '0'/)
  })
})

describe('portcullis proxy', { skip }, () => {
  it('proxies to the --to targets without a config file and stops on SIGINT', async () => {
    const cli = startCli(['proxy', '--from', '127.0.0.1:0', '--to', originUrl])
    const [, url] = await cli.waitForStderr(LISTENING)
    assert.equal(await (await fetch(`${url}/via-proxy?q=1`)).text(), 'origin saw GET /via-proxy?q=1')
    cli.child.kill('SIGINT')
    assert.equal(await cli.exited, 0)
  })

  it('assumes http:// and writes an access log with --access-log', async () => {
    const cli = startCli([
      'proxy',
      '-f',
      '127.0.0.1:0',
      '-t',
      originUrl.replace('http://', ''),
      '--access-log',
    ])
    const [, url] = await cli.waitForStderr(LISTENING)
    assert.equal(await (await fetch(`${url}/logged`)).text(), 'origin saw GET /logged')
    cli.child.kill('SIGTERM')
    assert.equal(await cli.exited, 0)
    assert.match(cli.stdout(), /\/logged/)
  })

  it('ignores SIGHUP with a note, since there is no file to reload', async () => {
    const cli = startCli(['proxy', '--from', '127.0.0.1:0', '--to', originUrl])
    const [, url] = await cli.waitForStderr(LISTENING)
    cli.child.kill('SIGHUP')
    await cli.waitForStderr(/SIGHUP ignored: there is no configuration file to reload/)
    assert.equal(await (await fetch(`${url}/after-hup`)).text(), 'origin saw GET /after-hup')
    cli.child.kill('SIGTERM')
    assert.equal(await cli.exited, 0)
  })
})
