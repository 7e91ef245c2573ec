import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ConfigError, formatProblem } from '../../src/config/errors.ts'
import {
  formatProblems,
  type LoadResult,
  loadConfig,
  parseConfigText,
  validateConfig,
} from '../../src/config/load.ts'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-config-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

function problems(result: LoadResult): string[] {
  assert.equal(result.ok, false, 'expected the configuration to be refused')
  return result.ok ? [] : result.problems.map(formatProblem)
}

function config(result: LoadResult) {
  if (!result.ok) assert.fail(`expected a valid configuration:\n${formatProblems(result.problems)}`)
  return result.config
}

describe('loadConfig', () => {
  it('applies defaults and converts units', async () => {
    const file = join(dir, 'units.yaml')
    await writeFile(
      file,
      'listen:\n  - address: 9000\ntimeouts:\n  drain: 2m\nlimits:\n  maxBodySize: 10mb\n',
    )
    const result = await loadConfig(file)
    const c = config(result)
    assert.deepEqual(c.listen, [{ address: { host: '127.0.0.1', port: 9000 } }])
    assert.equal(c.timeouts.drain, 120_000)
    assert.equal(c.timeouts.head, 10_000)
    assert.equal(c.limits.maxBodySize, 10 * 1024 * 1024)
    assert.equal(result.ok && result.file, file)
  })

  it('treats an empty file as all defaults', async () => {
    const file = join(dir, 'empty.yaml')
    await writeFile(file, '# nothing yet\n')
    assert.equal(config(await loadConfig(file)).listen[0]!.address.port, 8080)
  })

  it('resolves relative TLS and access-log paths against the file’s directory', async () => {
    const sub = join(dir, 'site')
    await mkdir(join(sub, 'tls'), { recursive: true })
    await writeFile(join(sub, 'tls', 'cert.pem'), 'x')
    await writeFile(join(sub, 'tls', 'key.pem'), 'x')
    const text = `listen:
  - address: 127.0.0.1:8443
    tls: { cert: ./tls/cert.pem, key: tls/key.pem }
accessLog: { enabled: true, path: logs/access.log }
`
    await writeFile(join(sub, 'gateway.yaml'), text)
    const c = config(await loadConfig(join(sub, 'gateway.yaml')))
    assert.deepEqual(c.listen[0]!.tls, { cert: join(sub, 'tls/cert.pem'), key: join(sub, 'tls/key.pem') })
    assert.equal(c.accessLog.path, join(sub, 'logs/access.log'))
  })

  it('reports a TLS file that cannot be read, at its value', async () => {
    const file = join(dir, 'tls.yaml')
    await writeFile(
      file,
      'listen:\n  - address: 127.0.0.1:8443\n    tls:\n      cert: nope.pem\n      key: nope.key\n',
    )
    assert.deepEqual(problems(await loadConfig(file)), [
      `${file}:4:13 listen.0.tls.cert: cannot read ${join(dir, 'nope.pem')} (ENOENT)`,
      `${file}:5:12 listen.0.tls.key: cannot read ${join(dir, 'nope.key')} (ENOENT)`,
    ])
  })

  it('keeps stdout and stderr as access-log destinations', async () => {
    const file = join(dir, 'log.yaml')
    await writeFile(file, 'accessLog: { enabled: true, path: stderr }\n')
    assert.equal(config(await loadConfig(file)).accessLog.path, 'stderr')
  })
})

describe('problem positions and wording', () => {
  const check = (text: string) => problems(parseConfigText(text, 'g.yaml', {}))

  it('points at an unknown key and suggests the nearest valid one', () => {
    assert.deepEqual(check('listen:\n  - address: 127.0.0.1:80\n    tsl: {}\nlimts: {}\nfrobnicate: 1\n'), [
      "g.yaml:3:5 listen.0.tsl: unknown key 'tsl' — did you mean 'tls'?",
      "g.yaml:4:1 limts: unknown key 'limts' — did you mean 'limits'?",
      "g.yaml:5:1 frobnicate: unknown key 'frobnicate'",
    ])
  })

  it('points at the parent of a missing required key', () => {
    assert.deepEqual(check('upstreams:\n  api:\n    balance: round-robin\n'), [
      "g.yaml:2:3 upstreams.api: missing required key 'targets'",
    ])
  })

  it('words wrong types, ranges and enums for people', () => {
    const text = `upstreams:
  api:
    targets: [{ url: http://a, weight: 0 }]
    balance: round-robinn
routes:
  - upstream: api
    match: { host: 5 }
  - respond: { status: "200" }
`
    assert.deepEqual(check(text), [
      'g.yaml:3:40 upstreams.api.targets.0.weight: must be at least 1',
      `g.yaml:4:14 upstreams.api.balance: must be one of 'round-robin', 'least-request', 'consistent-hash', 'random', 'peak-ewma', got "round-robinn" — did you mean 'round-robin'?`,
      'g.yaml:7:20 routes.0.match.host: expected a string or a list, got 5',
      'g.yaml:8:24 routes.1.respond.status: expected a number, got "200"',
    ])
  })

  it('reports every problem at once, in file order', () => {
    const text = 'routes:\n  - upstream: nope\nlimits:\n  maxHeadSize: huge\nlisten: []\n'
    assert.deepEqual(check(text), [
      "g.yaml:2:15 routes.0.upstream: unknown upstream 'nope'",
      'g.yaml:4:16 limits.maxHeadSize: invalid size "huge" (use e.g. 64kb, 10mb)',
      'g.yaml:5:9 listen: needs at least 1 entry (or a forward: section)',
    ])
  })

  it('points at an invalid upstream name', () => {
    assert.deepEqual(check('upstreams:\n  "my api":\n    targets: [{ url: http://a }]\n'), [
      "g.yaml:2:3 upstreams.my api: invalid name 'my api': upstream names use A-Z a-z 0-9 _ . -",
    ])
  })

  it('reports YAML syntax errors with positions and no key path', () => {
    assert.deepEqual(check('listen:\n  - address: 127.0.0.1:80\n   bad: indent\n'), [
      'g.yaml:3:1 syntax error: sequence item without - indicator',
    ])
    assert.deepEqual(check('routes: []\nlimits: {}\nroutes: []\n'), [
      'g.yaml:3:1 syntax error: map keys must be unique',
    ])
  })

  it('says when the file is not a mapping', () => {
    assert.deepEqual(check('- a\n- b\n'), ['g.yaml:1:1 expected a mapping, got a list'])
  })
})

describe('environment interpolation', () => {
  const load = (text: string, env: Record<string, string>) => parseConfigText(text, 'e.yaml', env)

  it('replaces ${NAME} inside strings', () => {
    const text = 'upstreams:\n  api:\n    targets: [{ url: "http://${HOST}:3001/${PREFIX}" }]\n'
    const c = config(load(text, { HOST: 'backend.internal', PREFIX: 'v2' }))
    assert.equal(c.upstreams.api!.targets[0]!.url, 'http://backend.internal:3001/v2')
  })

  it('uses ${NAME:-default} when NAME is unset or empty', () => {
    const text = 'proxy:\n  requestIdHeader: ${RID:-x-trace-id}\n'
    assert.equal(config(load(text, {})).proxy.requestIdHeader, 'x-trace-id')
    assert.equal(config(load(text, { RID: '' })).proxy.requestIdHeader, 'x-trace-id')
    assert.equal(config(load(text, { RID: 'x-req' })).proxy.requestIdHeader, 'x-req')
  })

  it('reports each unset variable at its value, and no schema noise for it', () => {
    const text = 'listen:\n  - address: ${ADDR}\nupstreams:\n  api:\n    targets:\n      - url: ${API_URL}\n'
    assert.deepEqual(problems(load(text, {})), [
      'e.yaml:2:14 listen.0.address: environment variable ADDR is not set',
      'e.yaml:6:14 upstreams.api.targets.0.url: environment variable API_URL is not set',
    ])
  })

  it('turns a value that is exactly one number or boolean variable into that type', () => {
    const text = `listen:
  - address: \${PORT}
upstreams:
  api:
    targets: [{ url: "http://a", weight: "\${W}" }]
proxy:
  via: \${VIA}
  echoRequestId: "\${ECHO:-true}"
`
    const c = config(load(text, { PORT: '9090', W: '3', VIA: 'false' }))
    assert.equal(c.listen[0]!.address.port, 9090)
    assert.equal(c.upstreams.api!.targets[0]!.weight, 3)
    assert.equal(c.proxy.via, false)
    assert.equal(c.proxy.echoRequestId, true)
  })

  it('keeps text around a variable a string', () => {
    const text = 'routes:\n  - respond: { body: "${N} items" }\n'
    assert.equal(config(load(text, { N: '5' })).routes[0]!.respond!.body, '5 items')
  })

  it('writes a literal ${ for $${', () => {
    const text = 'routes:\n  - respond: { body: "cost: $${PRICE} and $$HOME" }\n'
    assert.equal(config(load(text, {})).routes[0]!.respond!.body, 'cost: ${PRICE} and $$HOME')
  })

  it('works in JSON files, where values must be quoted', () => {
    const text = '{\n  "listen": [{ "address": "${PORT}" }],\n  "proxy": { "via": "${VIA}" }\n}\n'
    const c = config(load(text, { PORT: '7000', VIA: 'false' }))
    assert.equal(c.listen[0]!.address.port, 7000)
    assert.equal(c.proxy.via, false)
  })

  it('reports malformed references', () => {
    const text = 'routes:\n  - respond: { body: "${unclosed" }\n  - respond: { body: "${not a name}" }\n'
    assert.deepEqual(problems(load(text, {})), [
      "e.yaml:2:22 routes.0.respond.body: unterminated '${' (write '$${' for a literal '${')",
      "e.yaml:3:22 routes.1.respond.body: invalid environment variable reference '${not a name}'",
    ])
  })

  it('does not interpolate keys', () => {
    const text = 'upstreams:\n  ${NAME}:\n    targets: [{ url: http://a }]\n'
    assert.match(
      problems(load(text, { NAME: 'api' }))[0]!,
      /^e\.yaml:2:3 upstreams\.\$\{NAME\}: invalid name/,
    )
  })
})

describe('validateConfig', () => {
  it('validates a configuration object with the same schema', () => {
    const c = config(validateConfig({ upstreams: { a: { targets: [{ url: 'http://127.0.0.1:1' }] } } }))
    assert.equal(c.upstreams.a!.balance, 'round-robin')
  })

  it('accepts an already validated configuration unchanged (validation is idempotent)', () => {
    const first = config(
      validateConfig({
        listen: [{ address: '[::1]:8080' }, { address: 9000 }],
        upstreams: { a: { targets: [{ url: 'http://127.0.0.1:1' }], timeouts: { connect: '250ms' } } },
        routes: [{ match: { host: 'a.example', methods: ['get'] }, upstream: 'a' }],
        limits: { maxBodySize: '1mb' },
      }),
    )
    assert.deepEqual(config(validateConfig(first)), first)
  })

  it('reports problems without positions, named by source', () => {
    const result = validateConfig({ routes: [{ upstream: 'missing' }], limts: {} }, 'my-app')
    assert.deepEqual(problems(result), [
      "my-app limts: unknown key 'limts' — did you mean 'limits'?",
      "my-app routes.0.upstream: unknown upstream 'missing'",
    ])
  })
})

describe('formatProblem and ConfigError', () => {
  it('formats FILE:LINE:COL key.path: message, leaving out what is absent', () => {
    assert.equal(
      formatProblem({ file: 'a.yaml', line: 3, col: 7, path: 'routes.0', message: 'm' }),
      'a.yaml:3:7 routes.0: m',
    )
    assert.equal(formatProblem({ file: 'a.yaml', line: 3, col: 7, path: '', message: 'm' }), 'a.yaml:3:7 m')
    assert.equal(formatProblem({ file: 'a.yaml', line: 0, col: 0, path: 'x', message: 'm' }), 'a.yaml x: m')
  })

  it('ConfigError carries the problems and a readable message', () => {
    const p = { file: 'a.yaml', line: 1, col: 1, path: 'x', message: 'bad' }
    const err = new ConfigError([p])
    assert.equal(err.code, 'PORTCULLIS_CONFIG_INVALID')
    assert.deepEqual(err.problems, [p])
    assert.equal(err.message, 'invalid configuration:\na.yaml:1:1 x: bad')
  })
})
