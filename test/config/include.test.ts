import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { formatProblem } from '../../src/config/errors.ts'
import { formatProblems, type LoadResult, loadConfig } from '../../src/config/load.ts'

let root: string
let n = 0
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'portcullis-include-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

/** files writes a fresh directory of files and returns its path. */
async function files(tree: Record<string, string>): Promise<string> {
  const dir = join(root, `case-${n++}`)
  for (const [name, text] of Object.entries(tree)) {
    await mkdir(dirname(join(dir, name)), { recursive: true })
    await writeFile(join(dir, name), text)
  }
  return dir
}

function problems(result: LoadResult, dir: string): string[] {
  assert.equal(result.ok, false, 'expected the configuration to be refused')
  return result.ok ? [] : result.problems.map((p) => formatProblem(p).replaceAll(`${dir}/`, ''))
}

function config(result: LoadResult) {
  if (!result.ok) assert.fail(`expected a valid configuration:\n${formatProblems(result.problems)}`)
  return result.config
}

const API = 'upstreams:\n  api:\n    targets: [{ url: http://127.0.0.1:3001 }]\n'

describe('include', () => {
  it('concatenates lists (the including file first, then matches in name order) and merges maps', async () => {
    const dir = await files({
      'gateway.yaml': `include: routes/*.yaml\n${API}routes:\n  - match: { path: /main }\n    upstream: api\n`,
      'routes/b.yaml': 'routes:\n  - match: { path: /b }\n    upstream: web\n',
      'routes/a.yaml':
        'upstreams:\n  web:\n    targets: [{ url: http://127.0.0.1:3002 }]\nroutes:\n  - match: { path: /a }\n    upstream: api\n',
      'routes/notes.txt': 'not matched',
    })
    const c = config(await loadConfig(join(dir, 'gateway.yaml')))
    assert.deepEqual(
      c.routes.map((r) => [r.match.path, r.upstream]),
      [
        ['/main', 'api'],
        ['/a', 'api'],
        ['/b', 'web'],
      ],
    )
    assert.deepEqual(Object.keys(c.upstreams).sort(), ['api', 'web'])
  })

  it('takes a list of paths and globs, and follows nested includes depth first', async () => {
    const dir = await files({
      'gateway.yaml': `include: [first.yaml, "more/*.json"]\n${API}routes: [{ match: { path: /0 }, upstream: api }]\n`,
      'first.yaml': 'include: nested/deep.yaml\nroutes: [{ match: { path: /1 }, upstream: api }]\n',
      'nested/deep.yaml': 'routes: [{ match: { path: /2 }, upstream: api }]\n',
      'more/x.json': '{ "routes": [{ "match": { "path": "/3" }, "upstream": "api" }] }\n',
    })
    const c = config(await loadConfig(join(dir, 'gateway.yaml')))
    assert.deepEqual(
      c.routes.map((r) => r.match.path),
      ['/0', '/1', '/2', '/3'],
    )
  })

  it('reports problems inside included files at their own file, line, column and key path', async () => {
    const dir = await files({
      'gateway.yaml': `include: routes/*.yaml\n${API}limts: {}\n`,
      'routes/a.yaml': 'routes:\n  - match: { path: /a }\n    upstream: apii\n  - upstrem: api\n',
    })
    const r = await loadConfig(join(dir, 'gateway.yaml'))
    assert.deepEqual(problems(r, dir), [
      "gateway.yaml:5:1 limts: unknown key 'limts' — did you mean 'limits'?",
      "routes/a.yaml:3:15 routes.0.upstream: unknown upstream 'apii' — did you mean 'api'?",
      `routes/a.yaml:4:5 routes.1: needs exactly one action: ${actionList(r)}`,
      "routes/a.yaml:4:5 routes.1.upstrem: unknown key 'upstrem' — did you mean 'upstream'?",
    ])
  })

  it('names included files relative to the main file as the user spelled it', async () => {
    const dir = await files({
      'conf/gateway.yaml': 'include: extra.yaml\n',
      'conf/extra.yaml': 'limits: { maxHeaders: lots }\n',
    })
    const r = await loadConfig(join(dir, 'conf/gateway.yaml'))
    assert.deepEqual(problems(r, dir), [
      'conf/extra.yaml:1:23 limits.maxHeaders: expected a number, got "lots"',
    ])
  })

  it('reports a name defined in two files at both places', async () => {
    const dir = await files({
      'gateway.yaml': `include: more.yaml\n${API}`,
      'more.yaml': `${API}`,
    })
    assert.deepEqual(problems(await loadConfig(join(dir, 'gateway.yaml')), dir), [
      "gateway.yaml:3:3 upstreams.api: 'api' is defined more than once (also at more.yaml:2:3)",
      "more.yaml:2:3 upstreams.api: 'api' is defined more than once (also at gateway.yaml:3:3)",
    ])
  })

  it('reports a section that is not a list or map, defined in two files, at both places', async () => {
    const dir = await files({
      'gateway.yaml': 'include: more.yaml\nlimits: { maxHeaders: 10 }\n',
      'more.yaml': '\nlimits: { maxHeaders: 20 }\n',
    })
    const tail = 'only lists and maps combine across files'
    assert.deepEqual(problems(await loadConfig(join(dir, 'gateway.yaml')), dir), [
      `gateway.yaml:2:1 limits: defined more than once (also at more.yaml:2:1); ${tail}`,
      `more.yaml:2:1 limits: defined more than once (also at gateway.yaml:2:1); ${tail}`,
    ])
  })

  it('reports a list section that is not a list in an included file', async () => {
    const dir = await files({
      'gateway.yaml': 'include: more.yaml\nroutes: []\n',
      'more.yaml': 'routes: { match: {} }\n',
    })
    assert.deepEqual(problems(await loadConfig(join(dir, 'gateway.yaml')), dir), [
      'more.yaml:1:9 routes: expected a list, got a mapping',
    ])
  })

  it('reports an include cycle at the include that closes it', async () => {
    const dir = await files({
      'gateway.yaml': 'include: [a.yaml]\n',
      'a.yaml': 'include: sub/b.yaml\n',
      'sub/b.yaml': 'include: ../*.yaml\n',
    })
    assert.deepEqual(problems(await loadConfig(join(dir, 'gateway.yaml')), dir), [
      'sub/b.yaml:1:10 include: include cycle: a.yaml → sub/b.yaml → a.yaml',
      'sub/b.yaml:1:10 include: include cycle: gateway.yaml → a.yaml → sub/b.yaml → gateway.yaml',
    ])
  })

  it('reports a file included twice, and one that includes itself through a symlink', async () => {
    const dir = await files({
      'gateway.yaml': 'include: [a.yaml, "*.yaml"]\n',
      'a.yaml': 'include: link.yaml\n',
    })
    await symlink(join(dir, 'a.yaml'), join(dir, 'link.yaml'))
    assert.deepEqual(problems(await loadConfig(join(dir, 'gateway.yaml')), dir), [
      'gateway.yaml:1:19 include.1: a.yaml is already included by gateway.yaml',
      'gateway.yaml:1:19 include.1: include cycle: gateway.yaml → gateway.yaml',
      'gateway.yaml:1:19 include.1: link.yaml is already included (as a.yaml) by gateway.yaml',
      'a.yaml:1:10 include: include cycle: a.yaml → link.yaml',
    ])
  })

  it('refuses a missing file but accepts a glob that matches nothing', async () => {
    const dir = await files({ 'gateway.yaml': 'include:\n  - conf.d/*.yaml\n  - missing.yaml\n' })
    assert.deepEqual(problems(await loadConfig(join(dir, 'gateway.yaml')), dir), [
      'gateway.yaml:3:5 include.1: cannot read missing.yaml (ENOENT)',
    ])
    const ok = await files({ 'gateway.yaml': 'include: conf.d/*.yaml\n' })
    assert.equal(config(await loadConfig(join(ok, 'gateway.yaml'))).routes.length, 0)
  })

  it('reports malformed include values and included files that are not mappings', async () => {
    const dir = await files({
      'gateway.yaml': 'include: [list.yaml, 5, ""]\n',
      'list.yaml': '- a\n- b\n',
    })
    assert.deepEqual(problems(await loadConfig(join(dir, 'gateway.yaml')), dir), [
      'gateway.yaml:1:22 include.1: expected a file path or glob, got 5',
      'gateway.yaml:1:25 include.2: expected a file path or glob, got ""',
    ])
    const map = await files({ 'gateway.yaml': 'include: { a: b }\n' })
    assert.deepEqual(problems(await loadConfig(join(map, 'gateway.yaml')), map), [
      'gateway.yaml:1:10 include: expected a file path or glob, or a list of them, got a mapping',
    ])
    const list = await files({ 'gateway.yaml': 'include: list.yaml\n', 'list.yaml': '- a\n' })
    assert.deepEqual(problems(await loadConfig(join(list, 'gateway.yaml')), list), [
      'list.yaml:1:1 an included file must be a mapping of top-level keys, got a list',
    ])
  })

  it('reports syntax errors in an included file there', async () => {
    const dir = await files({ 'gateway.yaml': 'include: bad.yaml\n', 'bad.yaml': 'routes: [\n' })
    const lines = problems(await loadConfig(join(dir, 'gateway.yaml')), dir)
    assert.ok(lines.length > 0)
    for (const line of lines) assert.match(line, /^bad\.yaml:\d+:\d+ syntax error: /)
  })

  it('suggests include for a misspelt top-level key', async () => {
    const dir = await files({ 'gateway.yaml': 'inclde: a.yaml\n' })
    assert.deepEqual(problems(await loadConfig(join(dir, 'gateway.yaml')), dir), [
      "gateway.yaml:1:1 inclde: unknown key 'inclde' — did you mean 'include'?",
    ])
  })

  it('interpolates the environment in included files and in include paths, with no noise when one is unset', async () => {
    const dir = await files({
      'gateway.yaml': 'include: ${SITE}/*.yaml\nroutes: [{ upstream: api }]\n',
      'prod/up.yaml': 'upstreams:\n  api:\n    targets: [{ url: "http://${API_HOST}:3001" }]\n',
      'prod/body.yaml': 'routes: [{ respond: { body: "${UNSET}" } }]\n',
    })
    const env = { SITE: 'prod', API_HOST: 'api.internal' }
    assert.deepEqual(problems(await loadConfig(join(dir, 'gateway.yaml'), env), dir), [
      'prod/body.yaml:1:29 routes.0.respond.body: environment variable UNSET is not set',
    ])
    const c = config(await loadConfig(join(dir, 'gateway.yaml'), { ...env, UNSET: 'x' }))
    assert.equal(c.upstreams.api!.targets[0]!.url, 'http://api.internal:3001')
    assert.deepEqual(problems(await loadConfig(join(dir, 'gateway.yaml'), {}), dir), [
      'gateway.yaml:1:10 include: environment variable SITE is not set',
    ])
  })

  it('resolves relative paths against the directory of the file that wrote them', async () => {
    const dir = await files({
      'gateway.yaml': 'include: site/tls.yaml\n',
      'site/tls.yaml':
        'listen:\n  - address: 127.0.0.1:8443\n    tls: { cert: certs/c.pem, key: certs/k.pem }\naccessLog: { path: logs/a.log }\n',
      'site/certs/c.pem': 'x',
      'site/certs/k.pem': 'x',
    })
    const c = config(await loadConfig(join(dir, 'gateway.yaml')))
    assert.deepEqual(c.listen[0]!.tls, {
      cert: join(dir, 'site/certs/c.pem'),
      key: join(dir, 'site/certs/k.pem'),
    })
    assert.equal(c.accessLog.path, join(dir, 'site/logs/a.log'))
  })

  it('lists the files read and the glob patterns, with a digest that changes with their content', async () => {
    const dir = await files({ 'gateway.yaml': 'include: [a.yaml, "d/*.yaml"]\n', 'a.yaml': '{}\n' })
    const first = await loadConfig(join(dir, 'gateway.yaml'))
    assert.deepEqual(first.inputs.files, [join(dir, 'gateway.yaml'), join(dir, 'a.yaml')])
    assert.deepEqual(first.inputs.patterns, [join(dir, 'd/*.yaml')])
    assert.equal((await loadConfig(join(dir, 'gateway.yaml'))).inputs.digest, first.inputs.digest)
    await mkdir(join(dir, 'd'))
    await writeFile(join(dir, 'd/new.yaml'), '{}\n')
    const second = await loadConfig(join(dir, 'gateway.yaml'))
    assert.notEqual(second.inputs.digest, first.inputs.digest)
    assert.deepEqual(second.inputs.files.at(-1), join(dir, 'd/new.yaml'))
  })
})

/** The route action list as the route schema words it (other engineers extend it). */
function actionList(r: LoadResult): string {
  const message = r.ok ? '' : (r.problems.find((p) => p.message.startsWith('needs exactly'))?.message ?? '')
  return message.replace('needs exactly one action: ', '')
}
