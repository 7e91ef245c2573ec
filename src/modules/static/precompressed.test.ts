import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { contentType } from './mime.ts'
import { acceptedCodings } from './precompressed.ts'

const names = (ae: string | undefined) => acceptedCodings(ae).map((c) => c.name)

describe('acceptedCodings (Accept-Encoding)', () => {
  it('prefers br on ties, q-values otherwise', () => {
    assert.deepEqual(names('gzip, deflate, br'), ['br', 'gzip'])
    assert.deepEqual(names('gzip, br;q=0.5'), ['gzip', 'br'])
    assert.deepEqual(names('br;q=0.2, gzip;q=0.8'), ['gzip', 'br'])
    assert.deepEqual(names('GZIP'), ['gzip'])
    assert.deepEqual(names('x-gzip'), ['gzip'])
  })

  it('q=0 refuses, * covers the codings not named', () => {
    assert.deepEqual(names('br;q=0, gzip'), ['gzip'])
    assert.deepEqual(names('*'), ['br', 'gzip'])
    assert.deepEqual(names('gzip;q=0, *'), ['br'])
    assert.deepEqual(names('*;q=0'), [])
    assert.deepEqual(names('br, *;q=0'), ['br'])
  })

  it('identity only, nothing, or nonsense → no coding', () => {
    assert.deepEqual(names(undefined), [])
    assert.deepEqual(names(''), [])
    assert.deepEqual(names('identity'), [])
    assert.deepEqual(names('deflate, zstd'), [])
    assert.deepEqual(names('br;q=banana'), [])
  })
})

describe('contentType', () => {
  it('maps extensions case-insensitively, text with charset', () => {
    assert.equal(contentType('/a/index.html'), 'text/html; charset=utf-8')
    assert.equal(contentType('app.JS'), 'text/javascript; charset=utf-8')
    assert.equal(contentType('logo.svg'), 'image/svg+xml; charset=utf-8')
    assert.equal(contentType('photo.jpeg'), 'image/jpeg')
    assert.equal(contentType('font.woff2'), 'font/woff2')
  })

  it('defaults to application/octet-stream', () => {
    assert.equal(contentType('README'), 'application/octet-stream')
    assert.equal(contentType('a.unknownext'), 'application/octet-stream')
    assert.equal(contentType('/x/.env'), 'application/octet-stream')
    assert.equal(contentType('a.constructor'), 'application/octet-stream')
    assert.equal(contentType('dir.d/file'), 'application/octet-stream')
  })
})
