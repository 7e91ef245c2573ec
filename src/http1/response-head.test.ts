import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseResponseHead, scanResponseHead } from './response-head.ts'
import { serializeResponseHead } from './serialize.ts'

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

describe('an indexed response head', () => {
  const OPTS = {
    framing: 'length',
    close: false,
    keepAliveHeader: false,
    extra: ['Via', '1.1 portcullis'],
    connectionOptions: undefined,
    upgrade: undefined,
  } as const
  const HEADS = [
    'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n',
    'HTTP/1.1 200 OK\r\nServer: x\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive\r\nTE: x\r\nDate: y\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTrailer: x\r\nUpgrade: h2c\r\nProxy-Connection: x\r\nX-Last: 1\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 204 No Content\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n',
  ]

  it('has the same rawHeaders as a field-by-field parse', () => {
    for (const text of HEADS) {
      const head = parse(text)
      const lines = text.split('\r\n').slice(1, -2)
      const expected = lines.flatMap((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()])
      assert.deepEqual(head.rawHeaders, expected, text)
    }
  })

  for (const framing of ['length', 'chunked'] as const) {
    it(`serializes as the field list does, hop-by-hop fields dropped (${framing})`, () => {
      for (const text of HEADS) {
        const head = parse(text)
        const o = { ...OPTS, framing }
        assert.equal(
          serializeResponseHead(head.status, head.reason, head, o),
          serializeResponseHead(head.status, head.reason, [...head.rawHeaders], o),
          text,
        )
      }
    })
  }

  it('drops fields named by Connection (through the field list)', () => {
    const head = parse('HTTP/1.1 200 OK\r\nConnection: x-secret\r\nX-Secret: 1\r\nX-Kept: 2\r\n\r\n')
    const out = serializeResponseHead(200, 'OK', head, { ...OPTS, connectionOptions: head.connectionOptions })
    assert.equal(out, 'HTTP/1.1 200 OK\r\nX-Kept: 2\r\nVia: 1.1 portcullis\r\n\r\n')
  })

  it('copies kept field lines byte for byte', () => {
    const head = parse('HTTP/1.1 200 OK\r\nX-A:a\r\nX-B:  b  \r\nContent-Length: 0\r\n\r\n')
    const out = serializeResponseHead(200, 'OK', head, OPTS)
    assert.equal(
      out,
      'HTTP/1.1 200 OK\r\nX-A:a\r\nX-B:  b  \r\nContent-Length: 0\r\nVia: 1.1 portcullis\r\n\r\n',
    )
    assert.deepEqual(head.rawHeaders, ['X-A', 'a', 'X-B', 'b', 'Content-Length', '0'])
  })
})
