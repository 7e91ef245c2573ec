/**
 * `portcullis start` reloading on file changes: `reload.watch: true` in the
 * file or `--watch`. Each test edits files the way editors and deploy tools
 * do and checks what the running gateway serves afterwards. A write in place
 * may be seen half done (and refused, or applied, until the next event), so
 * the tests wait for what is served rather than for the first reload.
 */
import assert from 'node:assert/strict'
import { mkdir, open, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { type RunningCli, startCli, withTempDir } from './run-cli.ts'

const LISTENING = /portcullis listening on (http:\/\/127\.0\.0\.1:\d+)\n/
const RELOADED = /configuration reloaded\n/
const REFUSED = /reload refused; keeping the running configuration\n/

/** A main file answering `/main` with `body`, including `routes/*.yaml`. */
function mainYaml(body: string, reload = 'reload: { watch: true, debounce: 50ms }'): string {
  return `listen: [{ address: 127.0.0.1:0 }]
${reload}
include: routes/*.yaml
routes:
  - match: { path: /main }
    respond: { body: ${body} }
`
}

function routeYaml(path: string, body: string): string {
  return `routes:\n  - match: { path: ${path} }\n    respond: { body: ${body} }\n`
}

async function text(url: string): Promise<string> {
  return (await fetch(url)).text()
}

/** serves polls `url` until it answers 200 with body `expected` (or, given a number, that status); fails after 5 s. */
async function serves(url: string, expected: string | number): Promise<void> {
  const until = Date.now() + 5000
  let last = ''
  while (Date.now() < until) {
    const res = await fetch(url)
    const body = await res.text()
    if (typeof expected === 'number' ? res.status === expected : res.status === 200 && body === expected)
      return
    last = `${res.status} ${body}`
    await new Promise((r) => setTimeout(r, 25))
  }
  assert.fail(`${url} answers ${JSON.stringify(last)}, expected ${JSON.stringify(expected)}`)
}

/** started runs the gateway in `dir` and resolves once it listens, with its URL; it is killed after the test. */
async function started(
  t: TestContext,
  dir: string,
  args: string[] = [],
): Promise<{ cli: RunningCli; url: string }> {
  const cli = startCli(['start', '-c', 'gateway.yaml', ...args], { cwd: dir })
  t.after(() => {
    if (cli.child.exitCode === null) cli.child.kill('SIGKILL')
  })
  const [, url] = await cli.waitForStderr(LISTENING)
  return { cli, url: url! }
}

/** change runs `edit` and waits for `outcome` to be logged after it. */
async function change(cli: RunningCli, edit: () => Promise<unknown>, outcome = RELOADED): Promise<string> {
  const mark = cli.stderr().length
  await edit()
  await cli.waitForStderr(outcome, mark)
  return cli.stderr().slice(mark)
}

/** save writes a file the way careful editors and deploy tools do: a new file renamed over the old. */
async function save(file: string, content: string): Promise<void> {
  await writeFile(`${file}.tmp`, content)
  await rename(`${file}.tmp`, file)
}

async function stop(cli: RunningCli): Promise<void> {
  cli.child.kill('SIGTERM')
  assert.equal(await cli.exited, 0)
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('portcullis start, watching the configuration', () => {
  it('reloads when the main file is written in place, renamed over, or replaced the way vim does', async (t) => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'gateway.yaml')
      await writeFile(file, mainYaml('v1'))
      const { cli, url } = await started(t, dir)
      assert.match(cli.stderr(), /watching the configuration for changes \(1 file\)/)
      assert.equal(await text(`${url}/main`), 'v1')

      const log = await change(cli, () => writeFile(file, mainYaml('v2')))
      assert.match(log, /configuration files changed; reloading/)
      await serves(`${url}/main`, 'v2')

      await save(file, mainYaml('v3'))
      await serves(`${url}/main`, 'v3')

      // vim's backupcopy=no: move the file away, write a new one, delete the backup.
      await rename(file, `${file}~`)
      await writeFile(file, mainYaml('v4'))
      await rm(`${file}~`)
      await serves(`${url}/main`, 'v4')
      await stop(cli)
    })
  })

  it('waits for a slow writer: an emptied file is a save in progress, not a configuration', async (t) => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'gateway.yaml')
      await writeFile(file, mainYaml('v1'))
      const { cli, url } = await started(t, dir)
      const mark = cli.stderr().length
      const handle = await open(file, 'r+')
      await handle.truncate(0)
      await pause(300) // six debounce periods with nothing in the file
      assert.equal(await text(`${url}/main`), 'v1')
      await handle.write(mainYaml('v2'), 0)
      await handle.close()
      await serves(`${url}/main`, 'v2')
      assert.doesNotMatch(cli.stderr().slice(mark), /stopped watching|refused/)
      await stop(cli)
    })
  })

  it('reloads when a Kubernetes ConfigMap update swaps the ..data symlink', async (t) => {
    await withTempDir(async (dir) => {
      // The layout kubelet writes: FILE -> ..data/FILE, ..data -> ..TIMESTAMP/
      for (const [version, body] of [
        ['..v1', 'one'],
        ['..v2', 'two'],
      ] as const) {
        await mkdir(join(dir, version))
        await writeFile(join(dir, version, 'gateway.yaml'), mainYaml(body))
      }
      await symlink('..v1', join(dir, '..data'))
      await symlink('..data/gateway.yaml', join(dir, 'gateway.yaml'))
      const { cli, url } = await started(t, dir)
      assert.equal(await text(`${url}/main`), 'one')
      await symlink('..v2', join(dir, '..data_tmp'))
      await rename(join(dir, '..data_tmp'), join(dir, '..data'))
      await serves(`${url}/main`, 'two')
      await stop(cli)
    })
  })

  it('reloads when an included file changes or a new one matches the glob', async (t) => {
    await withTempDir(async (dir) => {
      await mkdir(join(dir, 'routes'))
      await writeFile(join(dir, 'gateway.yaml'), mainYaml('main'))
      await writeFile(join(dir, 'routes/a.yaml'), routeYaml('/a', 'a1'))
      const { cli, url } = await started(t, dir)
      assert.match(cli.stderr(), /\(2 files\)/)
      assert.equal(await text(`${url}/a`), 'a1')

      await writeFile(join(dir, 'routes/a.yaml'), routeYaml('/a', 'a2'))
      await serves(`${url}/a`, 'a2')

      await writeFile(join(dir, 'routes/b.yaml'), routeYaml('/b', 'b1'))
      await serves(`${url}/b`, 'b1')
      // The new file is watched too.
      await writeFile(join(dir, 'routes/b.yaml'), routeYaml('/b', 'b2'))
      await serves(`${url}/b`, 'b2')

      await rm(join(dir, 'routes/b.yaml'))
      await serves(`${url}/b`, 404)
      await stop(cli)
    })
  })

  it('refuses an invalid change with its problems, keeps serving, and applies the fix', async (t) => {
    await withTempDir(async (dir) => {
      await mkdir(join(dir, 'routes'))
      await writeFile(join(dir, 'gateway.yaml'), mainYaml('main'))
      await writeFile(join(dir, 'routes/a.yaml'), routeYaml('/a', 'a1'))
      const { cli, url } = await started(t, dir)

      const broken = 'routes:\n  - match: { path: /a }\n    upstream: nowhere\n'
      const log = await change(cli, () => save(join(dir, 'routes/a.yaml'), broken), REFUSED)
      assert.match(log, /routes\/a\.yaml:3:15 routes\.0\.upstream: unknown upstream 'nowhere'/)
      assert.equal(await text(`${url}/a`), 'a1')
      assert.equal(await text(`${url}/main`), 'main')

      await save(join(dir, 'routes/a.yaml'), routeYaml('/a', 'fixed'))
      await serves(`${url}/a`, 'fixed')
      await stop(cli)
    })
  })

  it('watches with --watch alone, and ignores events that change nothing', async (t) => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'gateway.yaml')
      const reload = 'reload: { debounce: 50ms }'
      await writeFile(file, mainYaml('v1', reload))
      const { cli, url } = await started(t, dir, ['--watch'])
      const mark = cli.stderr().length
      await writeFile(join(dir, 'unrelated.txt'), 'x')
      await save(file, mainYaml('v1', reload)) // the same bytes
      await pause(400)
      assert.equal(cli.stderr().slice(mark), '', 'nothing reloaded')

      await save(file, mainYaml('v2', reload))
      await serves(`${url}/main`, 'v2')
      await stop(cli)
    })
  })

  it('does not watch unless asked, and stops when a reload turns watching off', async (t) => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'gateway.yaml')
      await writeFile(file, mainYaml('v1', ''))
      const { cli, url } = await started(t, dir)
      assert.doesNotMatch(cli.stderr(), /watching/)
      await save(file, mainYaml('v2'))
      await pause(300)
      assert.equal(await text(`${url}/main`), 'v1', 'no reload without watching')

      // SIGHUP applies a file that turns watching on …
      let mark = cli.stderr().length
      cli.child.kill('SIGHUP')
      await cli.waitForStderr(/watching the configuration for changes/, mark)
      assert.equal(await text(`${url}/main`), 'v2')
      // … and a watched change that turns it off again.
      const off = 'reload: { watch: false }'
      await change(cli, () => save(file, mainYaml('v3', off)), /stopped watching the configuration\n/)
      assert.equal(await text(`${url}/main`), 'v3')
      mark = cli.stderr().length
      await save(file, mainYaml('v4', off))
      await pause(300)
      assert.equal(cli.stderr().slice(mark), '')
      assert.equal(await text(`${url}/main`), 'v3')
      await stop(cli)
    })
  })
})
