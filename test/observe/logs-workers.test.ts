/**
 * With worker processes: a worker that dies is in the error log (its id,
 * pid, how it died, the restart delay), each worker's upstream failures carry
 * its id, and SIGUSR1 to the supervisor makes every worker reopen the files.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { startCli, withTempDir } from '../cli/run-cli.ts'

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode!))
      })
      .on('error', reject)
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })
}

function records(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return []
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

async function until<T>(ms: number, read: () => T | undefined): Promise<T | undefined> {
  const end = performance.now() + ms
  for (;;) {
    const v = read()
    if (v !== undefined || performance.now() > end) return v
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('error log with workers', () => {
  it('logs a worker crash and its restart, and SIGUSR1 reopens every worker’s files', async () => {
    await withTempDir(async (dir) => {
      const access = join(dir, 'access.log')
      const errors = join(dir, 'error.log')
      const dead = `http://127.0.0.1:${await freePort()}`
      writeFileSync(
        join(dir, 'g.yaml'),
        `listen:\n  - address: 127.0.0.1:0\nupstreams:\n  app:\n    targets:\n      - url: ${dead}\nroutes:\n  - upstream: app\n` +
          `accessLog:\n  enabled: true\n  path: ${access}\n  buffer: 0\nlog:\n  file: ${errors}\n`,
      )
      const cli = startCli(['start', '-c', join(dir, 'g.yaml'), '--workers', '2'])
      try {
        const [, url] = await cli.waitForStderr(
          /portcullis listening on (http:\/\/127\.0\.0\.1:\d+)/,
          0,
          60_000,
        )
        assert.equal(await get(`${url}/x`), 502)
        const failure = await until(5000, () =>
          records(errors).find((r) => r.code === 'UPSTREAM_CONNECT_REFUSED'),
        )
        assert.ok(failure, 'the failure is logged')
        assert.equal(typeof failure.worker, 'number', 'by the worker that served it')

        const [, pid] = /worker \d+ \(pid (\d+)\) listening/.exec(cli.stderr())!
        process.kill(Number(pid), 'SIGKILL')
        await cli.waitForStderr(/restarting it in \d+ ms/, 0, 20_000)
        const crash = await until(5000, () =>
          records(errors).find((r) => r.pid === Number(pid) && String(r.msg).includes('restarting it in')),
        )
        assert.ok(crash, JSON.stringify(records(errors)))
        assert.equal(crash.level, 'error')
        assert.match(String(crash.msg), /^worker was killed by SIGKILL; restarting it in \d+ ms$/)

        renameSync(access, `${access}.1`)
        renameSync(errors, `${errors}.1`)
        const mark = cli.stderr().length
        cli.child.kill('SIGUSR1')
        await cli.waitForStderr(/log files reopened/, mark)
        // Each worker reopens when its message arrives; a few requests reach both.
        await new Promise((r) => setTimeout(r, 500))
        for (let i = 0; i < 6; i++) assert.equal(await get(`${url}/after-${i}`), 502)
        const after = await until(5000, () => {
          const found = records(access).filter((r) => String(r.path).startsWith('/after-'))
          return found.length === 6 ? found : undefined
        })
        assert.ok(after, 'every request after the reopen is in the new access.log')
        assert.ok(!readFileSync(`${access}.1`, 'utf8').includes('/after-'))
        assert.ok(records(errors).some((r) => r.code === 'UPSTREAM_CONNECT_REFUSED'))
      } finally {
        cli.child.kill('SIGTERM')
        await cli.exited
      }
    })
  })
})
