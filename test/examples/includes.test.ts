/**
 * examples/includes.yaml: a configuration split over includes/*.yaml serves
 * the routes of every file, and `check` reports problems in an included file
 * under that file's name.
 */
import assert from 'node:assert/strict'
import { cp, readFile, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli, startCli, withTempDir } from '../cli/run-cli.ts'

const examples = join(import.meta.dirname, '..', '..', 'examples')

describe('examples/includes.yaml', () => {
  it('serves the routes of the main file and of every included file', async (t) => {
    const origin = http.createServer((req, res) => res.end(`api saw ${req.url}`))
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
    t.after(() => origin.close())
    const apiPort = String((origin.address() as AddressInfo).port)
    const cli = startCli(['start', '-c', join(examples, 'includes.yaml')], {
      env: { PORT: '0', API_PORT: apiPort },
    })
    const [, url] = await cli.waitForStderr(/portcullis listening on (http:\/\/127\.0\.0\.1:\d+)\n/)
    assert.equal(await (await fetch(`${url}/healthz`)).text(), 'ok\n')
    assert.equal(await (await fetch(`${url}/api/time`)).text(), 'api saw /api/time')
    assert.equal(await (await fetch(`${url}/about`)).text(), 'Portcullis, configured from several files.\n')
    cli.child.kill('SIGTERM')
    assert.equal(await cli.exited, 0)
  })

  it('check names the included file, line and column of a problem', async () => {
    await withTempDir(async (dir) => {
      await cp(join(examples, 'includes.yaml'), join(dir, 'includes.yaml'))
      await cp(join(examples, 'includes'), join(dir, 'includes'), { recursive: true })
      assert.equal((await runCli(['check', '-c', 'includes.yaml'], { cwd: dir })).code, 0)
      const api = join(dir, 'includes/api.yaml')
      await writeFile(api, (await readFile(api, 'utf8')).replace('upstream: api', 'upstream: apii'))
      const r = await runCli(['check', '-c', 'includes.yaml'], { cwd: dir })
      assert.equal(r.code, 1)
      assert.equal(
        r.stderr,
        "includes/api.yaml:10:15 routes.0.upstream: unknown upstream 'apii' — did you mean 'api'?\n",
      )
    })
  })
})
