import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseResponseHead, scanResponseHead } from './response-head.ts'

function parse(text: string) {
  const buf = Buffer.from(text, 'latin1')
  return parseResponseHead(buf, 0, scanResponseHead(buf, 0, 65536), 100)
}

describe('the status line (RFC 9112 §4)', () => {
  const ACCEPTED: [string, number, number, string][] = [
    ['HTTP/1.1 200 OK', 1, 200, 'OK'],
    ['HTTP/1.0 404 Not Found', 0, 404, 'Not Found'],
    ['HTTP/1.1 200', 1, 200, ''],
    ['HTTP/1.1 200 ', 1, 200, ''],
    ['HTTP/1.1 599 Odd\tbut allowed \xe9', 1, 599, 'Odd\tbut allowed \xe9'],
    ['HTTP/1.1 103 Early Hints', 1, 103, 'Early Hints'],
  ]
  for (const [line, minor, status, reason] of ACCEPTED) {
    it(`reads ${JSON.stringify(line)}`, () => {
      const head = parse(`${line}\r\nContent-Length: 0\r\n\r\n`)
      assert.deepEqual([head.minor, head.status, head.reason], [minor, status, reason])
    })
  }

  const REFUSED = [
    'HTTP/1.2 200 OK',
    'HTTP/2 200',
    'HTTP/1.1 20 OK',
    'HTTP/1.1 2000 OK',
    'HTTP/1.1 20x OK',
    'HTTP/1.1  200 OK',
    'HTTP/1.1 200OK',
    'http/1.1 200 OK',
    'HTTP/1.1 099 Low',
    'HTTP/1.1 200 O\x00K',
    'HTTP/1.1 200 O\x7fK',
    'HTTP/1.1',
    '',
  ]
  for (const line of REFUSED) {
    it(`refuses ${JSON.stringify(line)}`, () => {
      assert.throws(
        () => parse(`${line}\r\nContent-Length: 0\r\n\r\n`),
        (err: { code?: string }) => err.code === 'UPSTREAM_INVALID_RESPONSE',
      )
    })
  }
})
