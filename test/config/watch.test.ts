import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import { watchConfig } from '../../src/config/watch.ts'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-watch-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** counting watches the configuration at `file` and counts the onChange calls. */
async function counting(file: string, debounceMs: number) {
  const loaded = await loadConfig(file)
  let calls = 0
  const watcher = watchConfig(loaded.inputs, debounceMs, () => calls++)
  return { watcher, calls: () => calls }
}

describe('watchConfig', () => {
  it('calls once for a burst of writes, after the debounce', async () => {
    const file = join(dir, 'burst.yaml')
    await writeFile(file, '{}\n')
    const { watcher, calls } = await counting(file, 200)
    for (let i = 0; i < 5; i++) {
      await writeFile(file, `# ${i}\n{}\n`)
      await pause(10)
    }
    assert.equal(calls(), 0, 'not before the debounce')
    await pause(500)
    assert.equal(calls(), 1)
    watcher.close()
  })

  it('notices a new file in a subdirectory of a ** glob', async () => {
    const base = join(dir, 'deep')
    await mkdir(join(base, 'sites/a'), { recursive: true })
    await writeFile(join(base, 'gateway.yaml'), 'include: sites/**/*.yaml\n')
    const { watcher, calls } = await counting(join(base, 'gateway.yaml'), 20)
    await writeFile(join(base, 'sites/a/new.yaml'), '{}\n')
    await pause(200)
    assert.equal(calls(), 1)
    watcher.close()
  })

  it('stops calling once closed, and update drops directories no longer needed', async () => {
    await mkdir(join(dir, 'one'))
    await mkdir(join(dir, 'two'))
    await writeFile(join(dir, 'one/g.yaml'), '{}\n')
    await writeFile(join(dir, 'two/g.yaml'), '{}\n')
    const { watcher, calls } = await counting(join(dir, 'one/g.yaml'), 20)
    watcher.update((await loadConfig(join(dir, 'two/g.yaml'))).inputs, 20)
    await writeFile(join(dir, 'one/g.yaml'), '# old\n{}\n')
    await pause(150)
    assert.equal(calls(), 0, 'the old directory is no longer watched')
    await writeFile(join(dir, 'two/g.yaml'), '# new\n{}\n')
    await pause(150)
    assert.equal(calls(), 1)
    watcher.close()
    await writeFile(join(dir, 'two/g.yaml'), '# closed\n{}\n')
    await pause(150)
    assert.equal(calls(), 1)
  })
})
