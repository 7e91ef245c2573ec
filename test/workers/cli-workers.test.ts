/**
 * `portcullis start --workers 2` as an operator runs it: SIGHUP reaches every
 * worker (an invalid file is refused and logged once, every worker keeps
 * the old configuration), SIGUSR2 rolls new workers in under wrk load with
 * no failed request and no socket error, and SIGTERM with an idle
 * keep-alive client exits at once. Everything started is killed at the end,
 * even on failure.
 */
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { runCli, type RunningCli, startCli, withTempDir, killAfter } from '../cli/run-cli.ts'

const LISTENING = /portcullis listening on http:\/\/127\.0\.0\.1:(\d+)\n/

/** yaml is the test's file: 2 workers, taking connections round-robin (so 8 new connections reach both) or shared. */
function yaml(port: number, body: string, accept = 'round-robin'): string {
  return `workers: 2\nsupervisor: { accept: ${accept} }\nlisten:\n  - address: 127.0.0.1:${port}\nroutes:\n  - respond: { body: ${body} }\ntimeouts:\n  drain: 10s\n`
}

/** start runs `portcullis start` on `dir/gateway.yaml` with 2 workers (from the file) and waits for it to listen. */
async function start(
  t: TestContext,
  dir: string,
  accept = 'round-robin',
): Promise<{ cli: RunningCli; port: number; file: string }> {
  const file = join(dir, 'gateway.yaml')
  await writeFile(file, yaml(0, 'v1', accept))
  const cli = startCli(['start', '-c', file])
  killAfter(t, cli)
  const [, port] = await cli.waitForStderr(LISTENING, 0, 20_000)
  await writeFile(file, yaml(Number(port), 'v1', accept))
  return { cli, port: Number(port), file }
}

/** bodies fetches `n` times on new connections, so round-robin reaches every worker. */
async function bodies(port: number, n = 8): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })
    out.push(await r.text())
  }
  return out
}

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern, 'g'))?.length ?? 0
}

const hasWrk = (() => {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' })
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT' // wrk --version exits 1
  }
})()
const skipWrk = !hasWrk && !process.env.CI ? 'wrk is not installed' : false

/** wrk runs one bounded load run, nice'd so the gateway's new workers still get CPU to start. */
function wrk(port: number, seconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'nice',
      ['-n', '10', 'wrk', '-t1', '-c20', `-d${seconds}s`, `http://127.0.0.1:${port}/`],
      { timeout: (seconds + 10) * 1000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    )
  })
}

describe('portcullis start with workers', () => {
  it('SIGHUP reaches every worker; an invalid file is refused and logged once', async (t) => {
    await withTempDir(async (dir) => {
      const { cli, port, file } = await start(t, dir)
      assert.match(cli.stderr(), /worker \d+ \(pid \d+\) listening[\s\S]*worker \d+ \(pid \d+\) listening/)
      assert.deepEqual(new Set(await bodies(port)), new Set(['v1']))

      await writeFile(file, yaml(port, 'v2'))
      let mark = cli.stderr().length
      // `portcullis reload` sends the SIGHUP, as a service manager would.
      const sent = await runCli(['reload', '--pid', String(cli.child.pid)])
      assert.equal(sent.code, 0, sent.stderr)
      await cli.waitForStderr(/configuration reloaded\n/, mark)
      assert.deepEqual(new Set(await bodies(port)), new Set(['v2']), 'every worker serves the new file')

      await writeFile(file, yaml(port, 'v3').replace('drain: 10s', 'drain: soon'))
      mark = cli.stderr().length
      cli.child.kill('SIGHUP')
      await cli.waitForStderr(/reload refused; keeping the running configuration\n/, mark)
      await new Promise((r) => setTimeout(r, 300)) // a worker logging it too would show by now
      const log = cli.stderr().slice(mark)
      assert.equal(count(log, /timeouts\.drain: invalid duration/), 1, log)
      assert.equal(count(log, /reload refused/), 1, log)
      assert.deepEqual(
        new Set(await bodies(port)),
        new Set(['v2']),
        'every worker keeps the old configuration',
      )

      cli.child.kill('SIGTERM')
      assert.equal(await cli.exited, 0)
    })
  })

  it('exits 2 when the workers cannot listen (address in use)', async (t) => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    t.after(() => blocker.close())
    await withTempDir(async (dir) => {
      const port = (blocker.address() as net.AddressInfo).port
      await writeFile(join(dir, 'gateway.yaml'), yaml(port, 'v1'))
      const cli = startCli(['start', '-c', 'gateway.yaml'], { cwd: dir })
      t.after(() => cli.child.kill('SIGKILL'))
      assert.equal(await cli.exited, 2)
      assert.match(cli.stderr(), /cannot listen: .*EADDRINUSE/)
    })
  })

  it('SIGTERM with an idle keep-alive client that never closes exits well under a second', async (t) => {
    await withTempDir(async (dir) => {
      const { cli, port } = await start(t, dir)
      const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
      socket.on('error', () => {})
      t.after(() => socket.destroy())
      await once(socket, 'connect')
      socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
      const [first] = (await once(socket, 'data')) as [Buffer]
      assert.match(first.toString('latin1'), /^HTTP\/1\.1 200/)
      const ended = once(socket, 'end')
      const t0 = performance.now()
      cli.child.kill('SIGTERM')
      assert.equal(await cli.exited, 0)
      const took = performance.now() - t0
      await ended
      assert.ok(took < 1000, `exited ${Math.round(took)} ms after SIGTERM`)
    })
  })

  it('rolls new workers in 10 times under wrk load with no failed request', { skip: skipWrk }, async (t) => {
    await withTempDir(async (dir) => {
      const { cli, port } = await start(t, dir, 'shared') // the default
      const runs: string[] = []
      let restarts = 0
      const deadline = performance.now() + 80_000
      const load = (async () => {
        // Back-to-back bounded wrk runs until the restarts are done.
        while (restarts < 10 && performance.now() < deadline) runs.push(await wrk(port, 2))
      })()
      await new Promise((r) => setTimeout(r, 500))
      for (; restarts < 10 && performance.now() < deadline; restarts++) {
        const mark = cli.stderr().length
        // The first through `portcullis reload --code`, the rest by signal.
        if (restarts === 0)
          assert.equal((await runCli(['reload', '--code', '--pid', String(cli.child.pid)])).code, 0)
        else cli.child.kill('SIGUSR2')
        await cli.waitForStderr(/rolling restart done: 2 of 2 workers replaced\n/, mark, 20_000)
      }
      await load
      assert.equal(restarts, 10, 'ten rolling restarts within the time limit')
      const all = runs.join('\n')
      const requests = [...all.matchAll(/(\d+) requests in/g)].reduce((n, m) => n + Number(m[1]), 0)
      assert.ok(requests > 1000, all)
      assert.doesNotMatch(all, /Socket errors|Non-2xx/, all)
      assert.equal(count(cli.stderr(), /replaced worker/), 20)
      t.diagnostic(`${requests} requests over ${runs.length} wrk runs, 10 rolling restarts, 0 errors`)
      cli.child.kill('SIGTERM')
      assert.equal(await cli.exited, 0)
    })
  })
})
