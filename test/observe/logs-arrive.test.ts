/**
 * Logs that arrive: an access log line is written within about a second of
 * its request at low traffic, whatever the buffer; what is held is written
 * on SIGTERM and when the process dies of an uncaught exception; SIGUSR1
 * reopens the files (logrotate); `--log-level` filters the error log; the
 * error log is JSON or pretty. The real binary, real sockets.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { startCli, withTempDir } from '../cli/run-cli.ts'

const LISTENING = /portcullis listening on (http:\/\/127\.0\.0\.1:\d+)/
const START_MS = 30_000

let origin: http.Server
let originUrl: string
before(async () => {
  origin = http.createServer((_req, res) => res.end('hello'))
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
})
after(() => origin.close())

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

/** within polls `read` until it returns something, for at most `ms`. */
async function within<T>(ms: number, read: () => T | undefined): Promise<T | undefined> {
  const end = performance.now() + ms
  for (;;) {
    const value = read()
    if (value !== undefined || performance.now() > end) return value
    await new Promise((r) => setTimeout(r, 50))
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter(Boolean)
}

function fileLines(path: string): string[] {
  return existsSync(path) ? lines(readFileSync(path, 'utf8')) : []
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })
}

function yaml(extra: string): string {
  return `listen:\n  - address: 127.0.0.1:0\nupstreams:\n  app:\n    targets:\n      - url: ${originUrl}\nroutes:\n  - upstream: app\n${extra}`
}

describe('access log lines arrive', () => {
  it('proxy --access-log: one request, its line on stdout within 2 s', async () => {
    const cli = startCli(['proxy', '--from', '127.0.0.1:0', '--to', originUrl, '--access-log'])
    try {
      const [, url] = await cli.waitForStderr(LISTENING, 0, START_MS)
      assert.equal(await get(`${url}/one`), 200)
      const line = await within(2000, () => lines(cli.stdout()).find((l) => l.includes('"/one"')))
      assert.ok(line, `no access log line within 2 s; stdout: ${cli.stdout()}`)
      assert.equal((JSON.parse(line) as { status: number }).status, 200)
    } finally {
      cli.child.kill('SIGTERM')
      await cli.exited
    }
  })

  it('a file with the default buffer: the line is there within 2 s', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      writeFileSync(join(dir, 'g.yaml'), yaml(`accessLog:\n  enabled: true\n  path: ${log}\n`))
      const cli = startCli(['start', '-c', join(dir, 'g.yaml')])
      try {
        const [, url] = await cli.waitForStderr(LISTENING, 0, START_MS)
        assert.equal(await get(`${url}/file`), 200)
        const line = await within(2000, () => fileLines(log).find((l) => l.includes('"/file"')))
        assert.ok(line, 'no access log line within 2 s')
      } finally {
        cli.child.kill('SIGTERM')
        await cli.exited
      }
    })
  })

  it('held lines (large buffer, long interval) are written on SIGTERM', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      const config = yaml(`accessLog:\n  enabled: true\n  path: ${log}\n  buffer: 1mb\n  flushInterval: 1h\n`)
      writeFileSync(join(dir, 'g.yaml'), config)
      const cli = startCli(['start', '-c', join(dir, 'g.yaml')])
      const [, url] = await cli.waitForStderr(LISTENING, 0, START_MS)
      for (let i = 0; i < 3; i++) assert.equal(await get(`${url}/held-${i}`), 200)
      assert.equal(fileLines(log).length, 0, 'held: 3 short lines are far below 1mb')
      cli.child.kill('SIGTERM')
      assert.equal(await cli.exited, 0)
      assert.deepEqual(
        fileLines(log).map((l) => (JSON.parse(l) as { path: string }).path),
        ['/held-0', '/held-1', '/held-2'],
      )
    })
  })

  it('held lines are written when the process dies of an uncaught exception', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      const gateway = pathToFileURL(join(import.meta.dirname, '../../src/server/gateway.ts')).href
      const script = join(dir, 'crash.ts')
      writeFileSync(
        script,
        `import http from 'node:http'
import { createGateway } from '${gateway}'
const gw = await createGateway({
  listen: [{ address: '127.0.0.1:0' }],
  upstreams: { app: { targets: [{ url: '${originUrl}' }] } },
  routes: [{ upstream: 'app' }],
  accessLog: { enabled: true, path: ${JSON.stringify(log)}, buffer: '1mb', flushInterval: '1h' },
})
await gw.listen()
const port = gw.addresses()[0].port
for (const p of ['/a', '/b'])
  await new Promise((r) => http.get({ port, host: '127.0.0.1', path: p, agent: false }, (res) => res.resume().on('end', r)))
setTimeout(() => { throw new Error('boom') }, 10)
`,
      )
      const code = await new Promise<number | null>((resolve) => {
        const child = execFile(process.execPath, [script], () => resolve(child.exitCode))
      })
      assert.equal(code, 1, 'died of the exception')
      assert.deepEqual(
        fileLines(log).map((l) => (JSON.parse(l) as { path: string }).path),
        ['/a', '/b'],
      )
    })
  })

  it('SIGUSR1 reopens the log files (after logrotate moved them)', async () => {
    await withTempDir(async (dir) => {
      const access = join(dir, 'access.log')
      const errors = join(dir, 'error.log')
      const extra = `accessLog:\n  enabled: true\n  path: ${access}\n  buffer: 0\nlog:\n  file: ${errors}\n`
      writeFileSync(join(dir, 'g.yaml'), yaml(extra))
      const cli = startCli(['start', '-c', join(dir, 'g.yaml')])
      try {
        const [, url] = await cli.waitForStderr(LISTENING, 0, START_MS)
        assert.equal(await get(`${url}/before`), 200)
        assert.ok(await within(2000, () => fileLines(access).find((l) => l.includes('/before'))))
        renameSync(access, `${access}.1`)
        renameSync(errors, `${errors}.1`)
        const mark = cli.stderr().length
        cli.child.kill('SIGUSR1')
        await cli.waitForStderr(/log files reopened/, mark)
        assert.equal(await get(`${url}/after`), 200)
        const after = await within(2000, () => fileLines(access).find((l) => l.includes('/after')))
        assert.ok(after, 'a new access.log with the next request')
        assert.ok(!readFileSync(`${access}.1`, 'utf8').includes('/after'))
        assert.match(readFileSync(`${errors}.1`, 'utf8'), /listening on/)
        assert.ok(await within(2000, () => fileLines(errors).find((l) => l.includes('reopened'))))
      } finally {
        cli.child.kill('SIGTERM')
        await cli.exited
      }
    })
  })
})

describe('error log level and format', () => {
  it('--log-level error keeps errors and drops info events', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    const cli = startCli(['proxy', '--from', '127.0.0.1:0', '--to', dead, '--log-level', 'error'])
    try {
      const [, url] = await cli.waitForStderr(LISTENING, 0, START_MS)
      assert.equal(await get(`${url}/x`), 502)
      await cli.waitForStderr(/"level":"error"/)
      const json = lines(cli.stderr()).filter((l) => l.startsWith('{'))
      const levels = json.map((l) => (JSON.parse(l) as { level: string }).level)
      assert.deepEqual(levels, ['error'], cli.stderr())
    } finally {
      cli.child.kill('SIGTERM')
      await cli.exited
    }
  })

  it('--log-level with an unknown level is a usage error', async () => {
    const cli = startCli(['proxy', '--to', originUrl, '--log-level', 'loud'])
    assert.equal(await cli.exited, 1)
    assert.match(
      cli.stderr(),
      /--log-level must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'/,
    )
  })

  it('json (the default off a terminal): events as JSON lines, status lines once, plain', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    const cli = startCli(['proxy', '--from', '127.0.0.1:0', '--to', dead])
    try {
      const [, url] = await cli.waitForStderr(LISTENING, 0, START_MS)
      assert.equal(await get(`${url}/x`), 502)
      await cli.waitForStderr(/"code":"UPSTREAM_CONNECT_REFUSED"/)
      const records = lines(cli.stderr())
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      assert.equal(cli.stderr().match(/listening on/g)?.length, 1, 'the plain status line, once')
      const failure = records.find((r) => r.code === 'UPSTREAM_CONNECT_REFUSED')!
      assert.equal(failure.level, 'error')
      assert.equal(typeof failure.time, 'string')
    } finally {
      cli.child.kill('SIGTERM')
      await cli.exited
    }
  })

  it('pretty: human-readable lines, each status line once', async () => {
    await withTempDir(async (dir) => {
      const dead = `http://127.0.0.1:${await freePort()}`
      const config = yaml('log:\n  format: pretty\n').replace(originUrl, dead)
      writeFileSync(join(dir, 'g.yaml'), config)
      const cli = startCli(['start', '-c', join(dir, 'g.yaml')])
      try {
        const [, url] = await cli.waitForStderr(LISTENING, 0, START_MS)
        assert.equal(await get(`${url}/x`), 502)
        const [line] = await cli.waitForStderr(/^.*ERROR.*$/m)
        assert.match(
          line,
          /^\d\d:\d\d:\d\d\.\d{3} ERROR upstream connect refused {2}code=UPSTREAM_CONNECT_REFUSED cause="connect ECONNREFUSED 127\.0\.0\.1:\d+" errno=ECONNREFUSED target=http:\/\/127\.0\.0\.1:\d+ /,
        )
        assert.match(line, / requestId=\S+/)
        assert.ok(!cli.stderr().includes('{"level"'), 'no JSON')
        assert.equal(cli.stderr().match(/listening on/g)?.length, 1, cli.stderr())
      } finally {
        cli.child.kill('SIGTERM')
        await cli.exited
      }
    })
  })
})
