import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { MAX_RANGES, multipartBody, parseRange } from './range.ts'

describe('parseRange', () => {
  const size = 1000
  it('reads a-b, a- and -n', () => {
    assert.deepEqual(parseRange('bytes=0-99', size), { kind: 'ranges', ranges: [{ start: 0, end: 99 }] })
    assert.deepEqual(parseRange('bytes=500-', size), { kind: 'ranges', ranges: [{ start: 500, end: 999 }] })
    assert.deepEqual(parseRange('bytes=-200', size), { kind: 'ranges', ranges: [{ start: 800, end: 999 }] })
  })

  it('clamps ends past the last byte and suffixes longer than the file', () => {
    assert.deepEqual(parseRange('bytes=900-5000', size), {
      kind: 'ranges',
      ranges: [{ start: 900, end: 999 }],
    })
    assert.deepEqual(parseRange('bytes=-5000', size), { kind: 'ranges', ranges: [{ start: 0, end: 999 }] })
  })

  it('keeps several ranges in the order asked, with optional whitespace and empty elements', () => {
    assert.deepEqual(parseRange('bytes= 500-599 , 0-9,, -1', size), {
      kind: 'ranges',
      ranges: [
        { start: 500, end: 599 },
        { start: 0, end: 9 },
        { start: 999, end: 999 },
      ],
    })
  })

  it('accepts the unit case-insensitively and ignores other units', () => {
    assert.equal(parseRange('Bytes=0-1', size).kind, 'ranges')
    assert.deepEqual(parseRange('items=0-1', size), { kind: 'whole' })
  })

  it('drops unsatisfiable ranges; 416 only when none is left', () => {
    assert.deepEqual(parseRange('bytes=1000-', size), { kind: 'unsatisfiable' })
    assert.deepEqual(parseRange('bytes=-0', size), { kind: 'unsatisfiable' })
    assert.deepEqual(parseRange('bytes=2000-3000, 5-6', size), {
      kind: 'ranges',
      ranges: [{ start: 5, end: 6 }],
    })
  })

  it('ignores an invalid field (serves the whole representation)', () => {
    for (const f of [
      'bytes',
      'bytes=',
      'bytes=abc',
      'bytes=5-1',
      'bytes=1-2-3',
      'bytes=--1',
      'bytes=0-1,x',
      '0-1',
    ])
      assert.deepEqual(parseRange(f, size), { kind: 'whole' }, f)
  })

  it('ignores overlapping ranges and more than MAX_RANGES', () => {
    assert.deepEqual(parseRange('bytes=0-100,50-150', size), { kind: 'whole' })
    assert.deepEqual(parseRange('bytes=0-0,0-0', size), { kind: 'whole' })
    assert.deepEqual(parseRange('bytes=500-600,-500', size), { kind: 'whole' })
    const many = Array.from({ length: MAX_RANGES + 1 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')
    assert.deepEqual(parseRange(`bytes=${many}`, size), { kind: 'whole' })
    const most = Array.from({ length: MAX_RANGES }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')
    assert.equal(parseRange(`bytes=${most}`, size).kind, 'ranges')
  })

  it('ignores ranges of an empty representation', () => {
    assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'whole' })
  })
})

describe('multipartBody', () => {
  it('streams every part with its headers, and its length is exact', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-range-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'f.txt')
    writeFileSync(file, 'abcdefghijklmnopqrstuvwxyz')
    const handle = await open(file)
    const body = multipartBody(
      handle,
      [
        { start: 0, end: 2 },
        { start: 23, end: 25 },
      ],
      26,
      'text/plain',
    )
    const boundary = /boundary=(\w+)$/.exec(body.contentType)![1]!
    const chunks: Buffer[] = []
    for await (const c of body.stream) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString('latin1')
    assert.equal(Buffer.byteLength(text, 'latin1'), body.length)
    assert.equal(
      text,
      `--${boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-2/26\r\n\r\nabc` +
        `\r\n--${boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 23-25/26\r\n\r\nxyz` +
        `\r\n--${boundary}--\r\n`,
    )
    await new Promise((r) => setImmediate(r))
    assert.equal(handle.fd, -1, 'the file is closed at the end')
  })

  it('closes the file when destroyed before the first read', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-range-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'f'), 'x'.repeat(100))
    const before = readdirSync('/proc/self/fd').length
    const handle = await open(join(dir, 'f'))
    const body = multipartBody(
      handle,
      [
        { start: 0, end: 1 },
        { start: 5, end: 6 },
      ],
      100,
      'text/plain',
    )
    body.stream.destroy()
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(handle.fd, -1)
    assert.equal(readdirSync('/proc/self/fd').length, before)
  })
})
