import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { isBelow, type Located, locate } from './locate.ts'

let base: string
let root: string

before(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'portcullis-locate-')))
  root = join(base, 'root')
  mkdirSync(join(root, 'docs'), { recursive: true })
  mkdirSync(join(root, 'empty'))
  writeFileSync(join(root, 'a.txt'), 'a')
  writeFileSync(join(root, 'docs', 'index.htm'), 'docs')
  writeFileSync(join(base, 'secret.txt'), 'secret')
  symlinkSync(join(base, 'secret.txt'), join(root, 'out.txt'))
  symlinkSync(base, join(root, 'up'))
  symlinkSync('a.txt', join(root, 'alias.txt'))
  symlinkSync('docs', join(root, 'docs-alias'))
  execFileSync('mkfifo', [join(root, 'pipe')])
})

after(() => rmSync(base, { recursive: true, force: true }))

async function find(segments: string[], directory = false): Promise<Located> {
  const found = await locate(root, segments, directory, ['index.html', 'index.htm'])
  if (found.kind === 'file') await found.file.handle.close()
  return found
}

describe('locate', () => {
  it('opens a regular file and reports its unresolved path', async () => {
    const found = await find(['a.txt'])
    assert.equal(found.kind, 'file')
    assert.equal(found.kind === 'file' && found.path, join(root, 'a.txt'))
    assert.equal(found.kind === 'file' && found.file.stat.size, 1)
  })

  it('follows symlinks that stay inside the root', async () => {
    assert.equal((await find(['alias.txt'])).kind, 'file')
    assert.equal((await find(['docs-alias'], true)).kind, 'file')
  })

  it('refuses symlinks out of the root, to files and through directories', async () => {
    assert.equal((await find(['out.txt'])).kind, 'not-found')
    assert.equal((await find(['up', 'secret.txt'])).kind, 'not-found')
    assert.equal((await find(['up'], true)).kind, 'not-found')
  })

  it('answers a directory with its first index file, or a redirect without the slash', async () => {
    const found = await find(['docs'], true)
    assert.equal(found.kind === 'file' && found.path, join(root, 'docs', 'index.htm'))
    assert.equal((await find(['docs'])).kind, 'redirect')
    assert.equal((await find([])).kind, 'redirect')
    assert.equal((await find(['empty'], true)).kind, 'not-found')
  })

  it('does not serve a file named as a directory, a FIFO, or nothing', async () => {
    assert.equal((await find(['a.txt'], true)).kind, 'not-found')
    assert.equal((await find(['pipe'])).kind, 'not-found')
    assert.equal((await find(['missing.txt'])).kind, 'not-found')
    assert.equal((await find(['a.txt', 'x'])).kind, 'not-found')
  })
})

describe('isBelow', () => {
  it('is true for the root and below it, false for siblings sharing a prefix', () => {
    assert.equal(isBelow('/srv/www', '/srv/www'), true)
    assert.equal(isBelow('/srv/www', '/srv/www/a'), true)
    assert.equal(isBelow('/srv/www', '/srv/www2/a'), false)
    assert.equal(isBelow('/srv/www', '/srv'), false)
    assert.equal(isBelow('/', '/etc/passwd'), true)
  })
})
