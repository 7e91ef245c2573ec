import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { PORTCULLIS_NODE_FLAGS } from './node-flags.ts'

const root = new URL('../../', import.meta.url)
const flags = PORTCULLIS_NODE_FLAGS.join(' ')

describe('PORTCULLIS_NODE_FLAGS', () => {
  it('is what the bin runs with (the sources, and the published JavaScript one)', () => {
    for (const bin of ['bin/portcullis.ts', 'bin/portcullis.js']) {
      const shebang = readFileSync(new URL(bin, root), 'utf8').split('\n')[0]
      assert.equal(shebang, `#!/usr/bin/env -S node ${flags}`, bin)
    }
  })

  it('is what npm start runs with', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
      scripts: { start: string }
    }
    assert.ok(pkg.scripts.start.startsWith(`node ${flags} `), pkg.scripts.start)
  })

  it('is accepted by this Node', async () => {
    const { execFileSync } = await import('node:child_process')
    assert.equal(
      execFileSync(process.execPath, [
        ...PORTCULLIS_NODE_FLAGS,
        '-e',
        'process.stdout.write("ok")',
      ]).toString(),
      'ok',
    )
  })
})
