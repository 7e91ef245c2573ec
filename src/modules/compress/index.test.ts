import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { configSchema } from '../../config/schema.ts'
import { HeaderList } from '../../core/header-list.ts'
import { addVary } from './index.ts'
import {
  compressionSchema,
  effectiveCompression,
  routeCompressSchema,
} from '../../config/modules/compress.ts'

function vary(raw: string[]): string[] {
  const h = new HeaderList(raw)
  addVary(h)
  return h.raw
}

describe('addVary', () => {
  it('adds Vary when there is none', () => {
    assert.deepEqual(vary(['Content-Type', 'text/html']), [
      'Content-Type',
      'text/html',
      'Vary',
      'Accept-Encoding',
    ])
  })
  it('appends to the last Vary line', () => {
    assert.deepEqual(vary(['Vary', 'Origin', 'vary', 'Cookie']), [
      'Vary',
      'Origin',
      'vary',
      'Cookie, Accept-Encoding',
    ])
  })
  it('does not list Accept-Encoding twice, in any case or position', () => {
    assert.deepEqual(vary(['Vary', 'Origin, accept-encoding']), ['Vary', 'Origin, accept-encoding'])
    assert.deepEqual(vary(['Vary', 'Accept-Encoding', 'Vary', 'Origin']), [
      'Vary',
      'Accept-Encoding',
      'Vary',
      'Origin',
    ])
  })
  it('leaves Vary: * alone', () => {
    assert.deepEqual(vary(['Vary', '*']), ['Vary', '*'])
  })
  it('does not mistake a longer name for Accept-Encoding', () => {
    assert.deepEqual(vary(['Vary', 'X-Accept-Encoding-Hint']), [
      'Vary',
      'X-Accept-Encoding-Hint, Accept-Encoding',
    ])
  })
})

describe('compression configuration', () => {
  const global = compressionSchema.parse({})

  it('is off by default, with br > zstd > gzip, 1 KiB and streaming levels', () => {
    assert.equal(global.enabled, false)
    assert.deepEqual(global.encodings, ['br', 'zstd', 'gzip'])
    assert.equal(global.minSize, 1024)
    assert.deepEqual(global.level, { gzip: 6, brotli: 4, zstd: 3 })
    assert.ok(global.types.includes('text/*'))
  })

  it('is a top-level key of the gateway configuration, and routes accept `compress`', () => {
    const cfg = configSchema.parse({
      compression: { enabled: true, minSize: '2kb' },
      upstreams: { o: { targets: [{ url: 'http://127.0.0.1:1' }] } },
      routes: [{ upstream: 'o', compress: { level: { gzip: 1 } } }],
    })
    assert.equal(cfg.compression.minSize, 2048)
    assert.deepEqual(cfg.routes[0]!.compress, { level: { gzip: 1 } })
    assert.deepEqual(configSchema.parse(cfg).compression, cfg.compression, 're-validating is idempotent')
  })

  it('refuses `compress` on a route the gateway answers itself', () => {
    const r = configSchema.safeParse({ routes: [{ respond: {}, compress: true }] })
    assert.equal(r.success, false)
    assert.match(r.error!.issues[0]!.message, /compress changes proxied requests and responses/)
  })

  it('rejects unknown encodings, duplicates, bad levels and bad media types', () => {
    assert.equal(compressionSchema.safeParse({ encodings: ['deflate'] }).success, false)
    assert.equal(compressionSchema.safeParse({ encodings: ['gzip', 'gzip'] }).success, false)
    assert.equal(compressionSchema.safeParse({ level: { gzip: 10 } }).success, false)
    assert.equal(compressionSchema.safeParse({ level: { zstd: 22 } }).success, false)
    assert.equal(compressionSchema.safeParse({ types: ['html'] }).success, false)
    assert.equal(compressionSchema.safeParse({ types: ['text/*html'] }).success, false)
    assert.equal(routeCompressSchema.safeParse({ minsize: 1 }).success, false)
  })

  it('lower-cases media types', () => {
    assert.deepEqual(compressionSchema.parse({ types: ['Text/HTML'] }).types, ['text/html'])
  })

  it('merges a route over the top level', () => {
    const on = { ...global, enabled: true }
    assert.equal(effectiveCompression(global, undefined), undefined)
    assert.equal(effectiveCompression(on, undefined), on)
    assert.equal(effectiveCompression(on, false), undefined)
    assert.deepEqual(effectiveCompression(global, true), on)
    assert.equal(effectiveCompression(on, { enabled: false }), undefined)
    const merged = effectiveCompression(global, { minSize: 10, level: { brotli: 2 } })
    assert.deepEqual(merged, { ...on, minSize: 10, level: { gzip: 6, brotli: 2, zstd: 3 } })
  })
})
