/**
 * The README's promise: `npm start` serves the quickstart and the two curl
 * commands it shows work. Also: every example configuration passes `check`.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'

const root = join(import.meta.dirname, '..', '..')

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}; got:\n${seen}`)),
      timeoutMs,
    )
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      const m = pattern.exec(seen)
      if (m) {
        clearTimeout(timer)
        resolve(m[0])
      }
    })
  })
}

describe('examples', () => {
  it('every example configuration passes portcullis check', () => {
    const files = readdirSync(join(root, 'examples')).filter((f) => /\.(ya?ml|json)$/.test(f))
    assert.ok(files.length > 0)
    for (const f of files) {
      const r = spawnSync(
        process.execPath,
        [join(root, 'bin/portcullis.ts'), 'check', '-c', join('examples', f)],
        {
          cwd: root,
          encoding: 'utf8',
          // The variables the examples' comments tell users to export (an unset one is an error).
          env: { ...process.env, ADMIN_TOKEN: 'example-admin-token' },
        },
      )
      assert.equal(r.status, 0, `${f}: ${r.stdout}${r.stderr}`)
    }
  })

  it('the quickstart serves /hello itself and proxies /api to the demo origin', async () => {
    const [port, originPort] = [await freePort(), await freePort()]
    const child = spawn(process.execPath, [join(root, 'examples/quickstart.ts')], {
      cwd: root,
      env: { ...process.env, PORT: String(port), DEMO_ORIGIN_PORT: String(originPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    after(() => {
      child.kill('SIGKILL')
    })
    await waitForLine(child, /portcullis listening on \S+/, 15_000)
    const hello = await fetch(`http://127.0.0.1:${port}/hello`)
    assert.equal(hello.status, 200)
    assert.equal(await hello.text(), 'Hello from Portcullis!\n')
    assert.match(hello.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)

    const api = await fetch(`http://127.0.0.1:${port}/api/time`)
    assert.equal(api.status, 200)
    const echoed = (await api.json()) as { url: string; headers: Record<string, string> }
    assert.equal(echoed.url, '/api/time')
    assert.equal(echoed.headers.via, '1.1 portcullis')
    assert.equal(echoed.headers['x-forwarded-for'], '127.0.0.1')

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    assert.equal(await exited, 0)
  })
})
