import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FieldSink, isName, parseFieldLines } from './fields.ts'

describe('isName', () => {
  it('matches any case of a lowercase name', () => {
    assert.ok(isName('Content-Length', 'content-length'))
    assert.ok(isName('CONTENT-LENGTH', 'content-length'))
    assert.ok(isName('host', 'host'))
  })

  it('matches no other token character', () => {
    // Every tchar that is not a letter, in each position of "host".
    const others = "!#$%&'*+-.^_`|~0123456789"
    for (const c of others) {
      for (let i = 0; i < 4; i++) {
        const name = `${'host'.slice(0, i)}${c}${'host'.slice(i + 1)}`
        assert.equal(isName(name, 'host'), false, name)
      }
    }
    assert.equal(isName('Content_Length', 'content-length'), false)
  })
})

describe('Content-Length values', () => {
  function length(value: string): number {
    const sink = new FieldSink()
    const text = `Content-Length: ${value}\r\n`
    parseFieldLines(text, 0, text.length, sink, 10, 'MALFORMED_REQUEST')
    return sink.contentLength
  }

  it('reads 1*DIGIT up to 15 digits exactly', () => {
    assert.equal(length('0'), 0)
    assert.equal(length('0012'), 12)
    assert.equal(length('999999999999999'), 999_999_999_999_999)
  })

  for (const bad of ['', '1.5', '-1', '+1', '1e3', '0x10', '1 2', '12a', '1000000000000000', '١٢']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => length(bad), /Content-Length/)
    })
  }
})
