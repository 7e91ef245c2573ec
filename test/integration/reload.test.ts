/**
 * Reloading under load: the real `portcullis start` serves wrk's traffic
 * while its configuration is swapped 20 times (SIGHUP), and again while an
 * included file is edited with watching on, valid and invalid versions in
 * turn. Not one request may fail: in-flight requests finish on the old
 * configuration, new ones take the new one, and an invalid file changes
 * nothing.
 *
 * Each pair of configurations routes `/` to the same origin through
 * differently named upstreams, so every reload retires a set of upstream
 * pools with requests still running on them and waiting in their queues,
 * and answers `/which` itself so the test can see which configuration is in
 * force.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it, type TestContext } from 'node:test'
import { formatProblems, validateConfig } from '../../src/config/load.ts'
import { type RunningCli, startCli, withTempDir } from '../cli/run-cli.ts'
import { proxyConfig, startGateway, startOrigin, waitFor } from '../helpers/gateway.ts'

const wrkMissing = spawnSync('wrk', ['--version']).error !== undefined
const skip = wrkMissing ? 'wrk is not installed (apt-get install wrk)' : false

const LISTENING = /portcullis listening on (http:\/\/127\.0\.0\.1:\d+)\n/
const RELOADED = /configuration reloaded\n/
const REFUSED = /reload refused; keeping the running configuration\n/
const RELOADS = 20
// A slow answer on a busy machine is not a failed request: wrk's default
// 2 s timeout would count it as a socket error.
const WRK_ARGS = ['-t1', '-c20', '-d6s', '--timeout', '10s']

let origin: http.Server
let originUrl: string
before(async () => {
  // A little latency keeps requests in flight at every reload.
  origin = http.createServer((_req, res) => setTimeout(() => res.end('ok'), 1))
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
})
after(() => origin.close())

/** wrk's summary: total requests, socket errors and non-2xx/3xx responses. */
interface WrkResult {
  requests: number
  socketErrors: number
  non2xx: number
  output: string
}

function runWrk(url: string): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', [...WRK_ARGS, url], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d))
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited ${code}:\n${output}`))
      resolve(parseWrk(output))
    })
  })
}

/** parseWrk reads wrk's report; it prints the error lines only when there were errors. */
export function parseWrk(output: string): WrkResult {
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? Number.NaN)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output)
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0)
  return { requests, socketErrors, non2xx, output }
}

/**
 * An upstream with fewer connections than wrk has, so requests also wait in
 * the pool's queue when a reload retires it.
 */
function upstreamsYaml(name: string): string {
  return `upstreams:\n  ${name}:\n    targets: [{ url: ${originUrl} }]\n    pool: { maxConnections: 8 }\n`
}

function gatewayYaml(name: string, extra = ''): string {
  return `listen: [{ address: 127.0.0.1:0 }]
${extra}${upstreamsYaml(name)}routes:
  - match: { path: /which }
    respond: { body: ${name} }
  - match: { path: / }
    upstream: ${name}
`
}

async function started(t: TestContext, dir: string): Promise<{ cli: RunningCli; url: string }> {
  const cli = startCli(['start', '-c', 'gateway.yaml'], { cwd: dir })
  t.after(() => {
    if (cli.child.exitCode === null) cli.child.kill('SIGKILL')
  })
  const [, url] = await cli.waitForStderr(LISTENING)
  return { cli, url: url! }
}

async function which(url: string): Promise<string> {
  return (await fetch(`${url}/which`)).text()
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

function assertNoErrors(t: TestContext, result: WrkResult, what: string): void {
  t.diagnostic(
    `${what}: ${result.requests} requests, ${result.socketErrors} socket errors, ${result.non2xx} non-2xx`,
  )
  assert.ok(result.requests > 1000, `wrk made too few requests to mean anything:\n${result.output}`)
  assert.equal(result.socketErrors, 0, `socket errors:\n${result.output}`)
  assert.equal(result.non2xx, 0, `non-2xx responses:\n${result.output}`)
}

describe('reloading under load', { skip }, () => {
  it(`${RELOADS} SIGHUP reloads while wrk runs: 0 errors, 0 non-2xx`, async (t) => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'gateway.yaml')
      await writeFile(file, gatewayYaml('blue'))
      const { cli, url } = await started(t, dir)
      const load = runWrk(`${url}/`)
      const end = Date.now() + 6000
      await pause(500)
      for (let i = 1; i <= RELOADS; i++) {
        const name = i % 2 === 1 ? 'green' : 'blue'
        await writeFile(file, gatewayYaml(name))
        const mark = cli.stderr().length
        cli.child.kill('SIGHUP')
        await cli.waitForStderr(RELOADED, mark)
        assert.equal(await which(url), name, `reload ${i} is in force`)
        await pause(100)
      }
      assert.ok(Date.now() < end, 'every reload happened while wrk was running')
      assertNoErrors(t, await load, `${RELOADS} reloads`)
      assert.equal(cli.stderr().match(/configuration reloaded\n/g)?.length, RELOADS)
      cli.child.kill('SIGTERM')
      assert.equal(await cli.exited, 0)
    })
  })

  it('edits of an included file while wrk runs, invalid ones among them: 0 errors', async (t) => {
    await withTempDir(async (dir) => {
      await mkdir(join(dir, 'conf.d'))
      const main = `listen: [{ address: 127.0.0.1:0 }]
reload: { watch: true, debounce: 20ms }
include: conf.d/*.yaml
routes:
  - match: { path: / }
    upstream: app
`
      const fragment = (name: string) =>
        `${upstreamsYaml('app')}routes:\n  - match: { path: /which }\n    respond: { body: ${name} }\n`
      await writeFile(join(dir, 'gateway.yaml'), main)
      await writeFile(join(dir, 'conf.d/app.yaml'), fragment('v0'))
      const { cli, url } = await started(t, dir)
      const load = runWrk(`${url}/`)
      await pause(500)
      let refused = 0
      for (let i = 1; i <= 10; i++) {
        const invalid = i % 3 === 0
        const text = invalid ? fragment(`v${i}`).replace('url:', 'ulr:') : fragment(`v${i}`)
        const mark = cli.stderr().length
        // As deploy tools save: a new file renamed over the old one.
        await writeFile(join(dir, 'conf.d/app.yaml.tmp'), text)
        await rename(join(dir, 'conf.d/app.yaml.tmp'), join(dir, 'conf.d/app.yaml'))
        await cli.waitForStderr(invalid ? REFUSED : RELOADED, mark)
        if (invalid) {
          refused++
          assert.match(
            cli.stderr().slice(mark),
            /conf\.d\/app\.yaml:3:17 upstreams\.app\.targets\.0\.ulr: unknown key/,
          )
          assert.equal(await which(url), `v${i - 1}`, 'the old configuration keeps serving')
        } else {
          assert.equal(await which(url), `v${i}`)
        }
        await pause(150)
      }
      assert.equal(refused, 3)
      assertNoErrors(t, await load, '7 watched reloads and 3 refused')
      cli.child.kill('SIGTERM')
      assert.equal(await cli.exited, 0)
    })
  })
})

describe('reloading with requests queued for an upstream connection', () => {
  it('serves requests waiting in the old configuration’s pool once its connections free up', async (t) => {
    const held: (() => void)[] = []
    const slow = await startOrigin(
      (req, res) => req.on('end', () => held.push(() => res.end(`done ${req.url}`))),
      { t },
    )
    const config = (body: string) => ({
      ...proxyConfig(slow.url, { upstream: { pool: { maxConnections: 1, queueTimeout: '3s' } } }),
      routes: [
        { match: { path: '/which' }, respond: { body } },
        { match: {}, upstream: 'origin' },
      ],
    })
    const gw = await startGateway(config('old'), { t })
    // One request holds the only connection; the second waits in the queue.
    const first = fetch(`${gw.url}/first`).then((r) => r.text())
    await waitFor(() => held.length === 1, 'the first request at the origin')
    const second = fetch(`${gw.url}/second`).then(async (r) => `${r.status} ${await r.text()}`)
    await pause(50)
    await gw.gw.reload(validated(config('new')))
    assert.equal(await which(gw.url), 'new')
    held.shift()!()
    assert.equal(await first, 'done /first')
    await waitFor(() => held.length === 1, 'the queued request at the origin', 1000)
    held.shift()!()
    assert.equal(await second, '200 done /second')
    // Then the retired pool keeps nothing open.
    let open = -1
    await waitFor(() => {
      slow.server.getConnections((_err, n) => (open = n))
      return open === 0
    }, 'the old pool to close its connection')
  })
})

function validated(input: unknown) {
  const r = validateConfig(input)
  if (!r.ok) throw new Error(formatProblems(r.problems))
  return r.config
}
