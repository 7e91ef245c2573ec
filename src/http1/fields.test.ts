import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Fields, findHeadEnd, isName, parseFieldLines } from './fields.ts'

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
    const sink = new Fields()
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

describe('findHeadEnd', () => {
  it('finds the first CRLFCRLF as Buffer#indexOf does, at any offset and length', () => {
    const CRLFCRLF = Buffer.from('\r\n\r\n')
    const alphabet = [0x0d, 0x0a, 0x41]
    let seed = 7
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31)
    for (let n = 0; n < 3000; n++) {
      // Lengths around the 1024-byte switch to indexOf as well as short ones.
      const length = n % 3 === 0 ? 1010 + (next() % 40) : next() % 64
      const buf = Buffer.alloc(length)
      for (let i = 0; i < length; i++) buf[i] = alphabet[next() % 3]!
      const from = length === 0 ? 0 : next() % length
      assert.equal(findHeadEnd(buf, from), buf.indexOf(CRLFCRLF, from), `${buf.toString('hex')} from ${from}`)
    }
  })

  it('finds a head end past the byte-by-byte window', () => {
    const buf = Buffer.concat([Buffer.alloc(5000, 0x41), Buffer.from('\r\n\r\n')])
    assert.equal(findHeadEnd(buf, 0), 5000)
    assert.equal(findHeadEnd(buf, 4990), 5000)
    const edge = Buffer.concat([Buffer.alloc(1021, 0x41), Buffer.from('\r\n\r\nxx')])
    assert.equal(findHeadEnd(edge, 0), 1021)
  })
})
