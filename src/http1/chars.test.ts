import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isHostValue, isReasonPhrase, isTargetText, isToken } from './chars.ts'

// The regular expressions the table checks replaced: each function must agree
// with its expression on every string, which the cases below sample.
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const TARGET_RE = /^[\x21\x22\x24-\x7e]+$/
const REASON_RE = /^[^\x00-\x08\x0a-\x1f\x7f]*$/
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::\d*)?$/

const checks: [string, (s: string) => boolean, RegExp][] = [
  ['isToken', isToken, TOKEN_RE],
  ['isTargetText', isTargetText, TARGET_RE],
  ['isReasonPhrase', isReasonPhrase, REASON_RE],
  ['isHostValue', isHostValue, HOST_RE],
]

/** A deterministic generator (xorshift), so a failure names a string that fails again. */
function strings(count: number, alphabet: string, seed: number): string[] {
  let x = seed
  const next = (): number => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
  const out: string[] = []
  for (let n = 0; n < count; n++) {
    let s = ''
    const len = Math.floor(next() * 12)
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(next() * alphabet.length)]
    out.push(s)
  }
  return out
}

let every = ''
for (let c = 0; c < 256; c++) every += String.fromCharCode(c)

describe('character-class checks', () => {
  for (const [name, fn, re] of checks) {
    it(`${name} agrees with ${re} on every single character and the empty string`, () => {
      assert.equal(fn(''), re.test(''), 'empty string')
      for (const c of every) assert.equal(fn(c), re.test(c), `char 0x${c.charCodeAt(0).toString(16)}`)
    })

    it(`${name} agrees with ${re} on sampled strings`, () => {
      // A small alphabet with every class boundary makes mixed strings common.
      const alphabet = 'aZ09-._~:[]@ /?#%!*\t\x00\x7f\x80\xff"(),;=\r\n'
      for (const s of [...strings(20_000, alphabet, 0x9e3779b9), ...strings(2_000, every, 12345)]) {
        assert.equal(fn(s), re.test(s), JSON.stringify(s))
      }
    })
  }

  it('accepts the common shapes and refuses the near misses', () => {
    assert.ok(isToken('GET'))
    assert.ok(!isToken('GE T'))
    assert.ok(isTargetText('/a?b=c'))
    assert.ok(!isTargetText('/a b'))
    assert.ok(isHostValue('example.com:8080'))
    assert.ok(isHostValue('[::1]:443'))
    assert.ok(isHostValue('example.com:'))
    assert.ok(!isHostValue('example.com:80a'))
    assert.ok(!isHostValue('a:b:c'))
    assert.ok(!isHostValue('user@example.com'))
    assert.ok(isReasonPhrase('Not Found'))
    assert.ok(!isReasonPhrase('Bad\x00'))
    // Outside latin1: never produced by a latin1 decode, refused all the same.
    assert.ok(!isToken('G\u0147T'))
    assert.ok(!isHostValue('\u0147'))
  })
})
