/**
 * `static.root` in a configuration file: relative to the file's directory,
 * and `check` reports a root that is missing or not a directory at its
 * position.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { formatProblem } from '../../src/config/errors.ts'
import { formatProblems, loadConfig } from '../../src/config/load.ts'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-static-root-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('static.root', () => {
  it('resolves against the configuration file directory, not the working directory', async () => {
    const sub = join(dir, 'site')
    await mkdir(join(sub, 'public'), { recursive: true })
    const file = join(sub, 'gw.yaml')
    await writeFile(file, 'routes:\n  - match: { path: /assets }\n    static: { root: ./public }\n')
    const result = await loadConfig(file)
    if (!result.ok) assert.fail(formatProblems(result.problems))
    assert.equal(result.config.routes[0]!.static!.root, join(sub, 'public'))
  })

  it('reports a missing root and a root that is a file, at the value', async () => {
    await writeFile(join(dir, 'a-file'), 'x')
    const file = join(dir, 'bad.yaml')
    await writeFile(
      file,
      'routes:\n  - match: { path: /a }\n    static: { root: ./nowhere }\n' +
        '  - match: { path: /b }\n    static:\n      root: a-file\n',
    )
    const result = await loadConfig(file)
    assert.equal(result.ok, false)
    assert.deepEqual(result.ok ? [] : result.problems.map(formatProblem), [
      `${file}:3:21 routes.0.static.root: cannot read ${join(dir, 'nowhere')} (ENOENT)`,
      `${file}:6:13 routes.1.static.root: ${join(dir, 'a-file')} is not a directory`,
    ])
  })
})
