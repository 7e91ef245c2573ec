/**
 * docs/configuration.md stays true: every YAML example in it validates
 * against the schema, and every top-level key the schema accepts has a
 * section. Examples are fragments, so references to things defined
 * elsewhere (upstreams, certificate files, included files) are let pass.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { formatProblem, parseConfigText } from '../../src/config/load.ts'
import { configSchema } from '../../src/config/schema.ts'
import { knownKeys } from '../../src/config/schema-keys.ts'

const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8')
const ELSEWHERE = /unknown upstream|cannot read/

describe('docs/configuration.md', () => {
  it('has examples that validate', () => {
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!)
    assert.ok(blocks.length >= 8)
    for (const [i, block] of blocks.entries()) {
      const r = parseConfigText(block, `example-${i + 1}.yaml`, { PORT: '8080' })
      const problems = r.ok ? [] : r.problems.filter((p) => !ELSEWHERE.test(p.message))
      assert.deepEqual(problems.map(formatProblem), [], `example ${i + 1}:\n${block}`)
    }
  })

  it('documents every top-level key', () => {
    for (const key of [...knownKeys(configSchema, []), 'include']) {
      assert.ok(
        new RegExp(`^## \`${key}\``, 'm').test(doc),
        `docs/configuration.md has no section for ${key}`,
      )
    }
  })
})
