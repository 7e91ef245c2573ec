/**
 * examples/reload.yaml: with `reload.watch`, saving the file is enough for
 * the running gateway to serve the new configuration.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { startCli, withTempDir } from '../cli/run-cli.ts'

const example = join(import.meta.dirname, '..', '..', 'examples', 'reload.yaml')

describe('examples/reload.yaml', () => {
  it('serves an edited copy of itself without a restart', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'reload.yaml')
      const text = await readFile(example, 'utf8')
      await writeFile(file, text)
      const cli = startCli(['start', '-c', file], { env: { PORT: '0' } })
      const [, url] = await cli.waitForStderr(/portcullis listening on (http:\/\/127\.0\.0\.1:\d+)\n/)
      assert.equal(await (await fetch(`${url}/version`)).text(), 'v1\n')
      const mark = cli.stderr().length
      await writeFile(file, text.replace('body: "v1\\n"', 'body: "v2\\n"'))
      await cli.waitForStderr(/configuration reloaded\n/, mark)
      assert.equal(await (await fetch(`${url}/version`)).text(), 'v2\n')
      cli.child.kill('SIGTERM')
      assert.equal(await cli.exited, 0)
    })
  })
})
