import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { negotiate, parseWeights } from './negotiate.ts'
import type { Encoding } from '../../config/modules/compress.ts'

const ALL: Encoding[] = ['br', 'zstd', 'gzip']

describe('negotiate (RFC 9110 §12.5.3)', () => {
  const cases: [string | undefined, Encoding | undefined, string][] = [
    [undefined, undefined, 'no Accept-Encoding: identity'],
    ['', undefined, 'empty field: no coding wanted'],
    ['gzip', 'gzip', 'the only coding listed'],
    ['gzip, deflate, br, zstd', 'br', 'a browser: ties go to server order'],
    ['gzip, deflate, br', 'br', 'br before gzip on a tie'],
    ['gzip, zstd', 'zstd', 'zstd before gzip on a tie'],
    ['gzip;q=1, br;q=0.5', 'gzip', 'the higher weight wins over server order'],
    ['br;q=0, gzip', 'gzip', 'q=0 excludes br'],
    ['br;q=0', undefined, 'br excluded, nothing else listed'],
    ['*', 'br', '* accepts everything'],
    ['*;q=0.5, gzip', 'gzip', 'an explicit entry beats *'],
    ['*;q=0, identity', undefined, 'everything but identity excluded'],
    ['*;q=0', undefined, 'everything excluded: identity anyway'],
    ['br;q=0, *', 'zstd', '* covers the unlisted codings only'],
    ['identity;q=0', undefined, 'identity refused, nothing acceptable: identity anyway'],
    ['gzip, identity;q=0', 'gzip', 'identity refused, gzip acceptable'],
    ['gzip;q=0.5, identity', undefined, 'identity weighted higher: identity'],
    ['gzip;q=0.5, identity;q=0.5', 'gzip', 'equal weights: the coding'],
    ['deflate, compress', undefined, 'only codings we do not offer'],
    ['x-gzip', 'gzip', 'x-gzip is gzip (§8.4.1.3)'],
    ['GZIP;Q=0.8, Br;q=0.9', 'br', 'case-insensitive codings and parameter names'],
    [' gzip ; q=0.8 ,br ; q = 0.7', 'gzip', 'whitespace around members and parameters'],
    ['gzip;q=1.0, br;q=0.999', 'gzip', 'three decimals'],
    ['br;q=0.0001, gzip;q=0.1', 'gzip', 'an invalid qvalue ignores the member'],
    ['br;q=2, gzip;q=0.1', 'gzip', 'q above 1 is invalid'],
    ['br;q=abc', undefined, 'a non-numeric q is invalid'],
    ['gzip, gzip;q=0', undefined, 'a coding listed twice keeps its lowest weight'],
    ['br;foo=bar', 'br', 'other parameters do not change the weight'],
    [',,gzip,,', 'gzip', 'empty list members are skipped (RFC 9110 §5.6.1)'],
  ]
  for (const [field, want, what] of cases) {
    it(`${JSON.stringify(field)} → ${want ?? 'identity'}: ${what}`, () => {
      assert.equal(negotiate(field, ALL), want)
    })
  }

  it('offers only the configured codings, in the configured order', () => {
    assert.equal(negotiate('gzip, br', ['gzip', 'br']), 'gzip')
    assert.equal(negotiate('br', ['gzip']), undefined)
    assert.equal(negotiate('*', ['zstd', 'gzip']), 'zstd')
  })
})

describe('parseWeights', () => {
  it('reads the weights it cares about and marks the rest unlisted', () => {
    assert.deepEqual(parseWeights('br;q=0.3, *;q=0.1, identity;q=0'), {
      br: 0.3,
      zstd: -1,
      gzip: -1,
      identity: 0,
      star: 0.1,
    })
  })
})
