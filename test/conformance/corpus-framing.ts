/**
 * Corpus families for message framing (RFC 9112 §6–§7, §9): Content-Length,
 * Transfer-Encoding, chunked bodies and trailers, connection persistence,
 * Expect, and pipelined sequences — where request smuggling lives.
 */
import { type CorpusEntry, chunkedPost, Family, get, HOST, post, req } from './corpus-build.ts'

export function contentLength(): CorpusEntry[] {
  const f = new Family('content-length')
  const withCl = (value: string, body = 'hello') =>
    req('POST /p HTTP/1.1', [HOST, `Content-Length: ${value}`], body)
  f.add('5', withCl('5'))
  f.add('0', withCl('0', ''))
  f.add('0 in GET', req('GET / HTTP/1.1', [HOST, 'Content-Length: 0']))
  f.add('lowercase name', req('POST /p HTTP/1.1', [HOST, 'content-length: 5'], 'hello'))
  f.add('uppercase name', req('POST /p HTTP/1.1', [HOST, 'CONTENT-LENGTH: 5'], 'hello'))
  f.add('leading zeros 05', withCl('05'))
  f.add('leading zeros 00005', withCl('00005'))
  f.add('15 digits', withCl('000000000000005'))
  f.differs('19 digits with leading zeros', withCl('0000000000000000005'), 'D14', 400)
  f.add('OWS around', req('POST /p HTTP/1.1', [HOST, 'Content-Length:  5 \t'], 'hello'))
  f.add('1 MiB announced, body incomplete', withCl('1048576'))
  for (const v of ['-5', '+5', '0x5', '5.0', '5e0', '1e3', 'five', '5a', '٥'])
    f.add(`invalid ${v}`, withCl(v))
  f.add('empty', withCl(''))
  f.add('space inside 5 5', withCl('5 5'))
  f.add('list 5,5', withCl('5,5'))
  f.add('list 5, 5', withCl('5, 5'))
  f.add('list 5, 6', withCl('5, 6'))
  f.add('list with empty member', withCl('5,'))
  f.add('huge 99999999999999999999', withCl('99999999999999999999'))
  f.add('2^64', withCl('18446744073709551616'))
  f.add('duplicate same', req('POST /p HTTP/1.1', [HOST, 'Content-Length: 5', 'Content-Length: 5'], 'hello'))
  f.add(
    'duplicate different',
    req('POST /p HTTP/1.1', [HOST, 'Content-Length: 5', 'Content-Length: 6'], 'hello!'),
  )
  f.add(
    'duplicate 0 and 5',
    req('POST /p HTTP/1.1', [HOST, 'Content-Length: 0', 'Content-Length: 5'], 'hello'),
  )
  f.add('body shorter (incomplete)', withCl('10'))
  f.add('body longer: the rest is the next request', `${withCl('3')}\r\n\r\n`)
  f.add('CTL in value', withCl('5\x01'))
  return f.entries
}

export function transferEncoding(): CorpusEntry[] {
  const f = new Family('transfer-encoding')
  const body = '5\r\nhello\r\n0\r\n\r\n'
  const withTe = (value: string) => req('POST /p HTTP/1.1', [HOST, `Transfer-Encoding: ${value}`], body)
  f.add('chunked', withTe('chunked'))
  f.add('CHUNKED', withTe('CHUNKED'))
  f.add('Chunked', withTe('Chunked'))
  f.add('OWS around chunked', withTe('  chunked '))
  f.differs('HTAB after chunked', withTe('chunked\t'), 'D18', 'accept')
  f.add('lowercase name', req('POST /p HTTP/1.1', [HOST, 'transfer-encoding: chunked'], body))
  f.add('mixed case name', req('POST /p HTTP/1.1', [HOST, 'tRaNsFeR-eNcOdInG: chunked'], body))
  f.differs('gzip, chunked', withTe('gzip, chunked'), 'D08', 501)
  f.differs('deflate, chunked', withTe('deflate, chunked'), 'D08', 501)
  f.differs('x-custom, chunked', withTe('x-custom, chunked'), 'D08', 501)
  f.differs('identity, chunked', withTe('identity, chunked'), 'D08', 501)
  f.add('chunked, gzip', withTe('chunked, gzip'))
  f.add('chunked, chunked', withTe('chunked, chunked'))
  f.add('identity', withTe('identity'))
  f.add('gzip', withTe('gzip'))
  f.add('empty', withTe(''))
  f.add('leading comma', withTe(',chunked'))
  f.differs('trailing comma', withTe('chunked,'), 'D18', 'accept')
  f.differs('empty member in the middle', withTe('gzip,,chunked'), 'D08', 501)
  f.add('chunked with parameter', withTe('chunked;q=1'))
  f.add('chunkedx', withTe('chunkedx'))
  f.add('vertical tab before chunked', withTe('\x0bchunked'))
  // TE.TE desync cases (aws http-desync-guardian): only SP and HTAB are OWS
  // (RFC 9110 §5.6.3); String#trim would have read these as chunked.
  for (const [name, ws] of [
    ['no-break space', '\xa0'],
    ['next line', '\x85'],
    ['form feed', '\x0c'],
  ]) {
    f.add(`${name} before chunked`, withTe(`${ws}chunked`))
    f.add(`${name} after chunked`, withTe(`chunked${ws}`))
  }
  f.add('no-break space in a list', withTe('gzip,\xa0chunked'))
  f.add(
    'two lines chunked + chunked',
    req('POST /p HTTP/1.1', [HOST, 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], body),
  )
  f.differs(
    'two lines gzip + chunked',
    req('POST /p HTTP/1.1', [HOST, 'Transfer-Encoding: gzip', 'Transfer-Encoding: chunked'], body),
    'D08',
    501,
  )
  f.add(
    'two lines chunked + gzip',
    req('POST /p HTTP/1.1', [HOST, 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip'], body),
  )
  f.add(
    'TE then CL',
    req('POST /p HTTP/1.1', [HOST, 'Transfer-Encoding: chunked', 'Content-Length: 5'], body),
  )
  f.add(
    'CL then TE',
    req('POST /p HTTP/1.1', [HOST, 'Content-Length: 5', 'Transfer-Encoding: chunked'], body),
  )
  f.add(
    'CL 0 and TE',
    req('POST /p HTTP/1.1', [HOST, 'Content-Length: 0', 'Transfer-Encoding: chunked'], body),
  )
  f.add(
    'invalid CL and TE',
    req('POST /p HTTP/1.1', [HOST, 'Content-Length: x', 'Transfer-Encoding: chunked'], body),
  )
  f.differs(
    'chunked in HTTP/1.0',
    req('POST /p HTTP/1.0', [HOST, 'Transfer-Encoding: chunked'], body),
    'D09',
    400,
  )
  f.add(
    'Transfer_Encoding is just a field',
    req('POST /p HTTP/1.1', [HOST, 'Transfer_Encoding: chunked', 'Content-Length: 3'], 'abc'),
  )
  f.add('space before colon', req('POST /p HTTP/1.1', [HOST, 'Transfer-Encoding : chunked'], body))
  f.add('in GET', req('GET / HTTP/1.1', [HOST, 'Transfer-Encoding: chunked'], '0\r\n\r\n'))
  return f.entries
}

export function chunkedBodies(): CorpusEntry[] {
  const f = new Family('chunked')
  f.add('one chunk', chunkedPost('5\r\nhello\r\n0\r\n\r\n'))
  f.add('empty body', chunkedPost('0\r\n\r\n'))
  f.add('three chunks', chunkedPost('1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n'))
  f.add('uppercase hex', chunkedPost(`A\r\n${'x'.repeat(10)}\r\n0\r\n\r\n`))
  f.add('lowercase hex', chunkedPost(`1a\r\n${'x'.repeat(26)}\r\n0\r\n\r\n`))
  f.add('leading zeros', chunkedPost('0005\r\nhello\r\n0\r\n\r\n'))
  f.add('13 hex digits with leading zeros', chunkedPost('0000000000005\r\nhello\r\n0\r\n\r\n'))
  f.differs(
    '20 hex digits with leading zeros',
    chunkedPost('00000000000000000005\r\nhello\r\n0\r\n\r\n'),
    'D14',
    400,
  )
  f.add('last chunk 000', chunkedPost('5\r\nhello\r\n000\r\n\r\n'))
  f.add('4 KiB chunk', chunkedPost(`1000\r\n${'z'.repeat(4096)}\r\n0\r\n\r\n`))
  chunkExtensions(f)
  for (const size of ['g', '', '-1', '0x5', '+5', ' 5', '5 ', '5\t', '5 5', '٥']) {
    f.add(`bad size ${JSON.stringify(size)}`, chunkedPost(`${size}\r\nhello\r\n0\r\n\r\n`))
  }
  f.add('size overflow 2^64', chunkedPost('10000000000000000\r\nhello\r\n0\r\n\r\n'))
  f.add('size overflow ffffffffffffffffff', chunkedPost('ffffffffffffffffff\r\nhello\r\n0\r\n\r\n'))
  f.add('data longer than size', chunkedPost('3\r\nhello\r\n0\r\n\r\n'))
  f.add('data shorter than size', chunkedPost('6\r\nhello\r\n0\r\n\r\n'))
  f.add('missing CRLF after data', chunkedPost('5\r\nhello0\r\n\r\n'))
  f.add('missing LF after data', chunkedPost('5\r\nhello\r0\r\n\r\n'))
  f.add('missing last chunk (incomplete)', chunkedPost('5\r\nhello\r\n'))
  f.add('missing final CRLF (incomplete)', chunkedPost('5\r\nhello\r\n0\r\n'))
  f.add('no size line at all', chunkedPost('hello'))
  trailers(f)
  return f.entries
}

function chunkExtensions(f: Family): void {
  const ok = [
    ';ext',
    ';ext=val',
    ';a=1;b=2',
    ';ext="quoted value"',
    ';ext=""',
    ';ext="q;uo=ted"',
    ';ext="\\"esc\\""',
  ]
  for (const ext of ok) f.add(`extension ${ext}`, chunkedPost(`5${ext}\r\nhello\r\n0\r\n\r\n`))
  f.add('extension on last chunk', chunkedPost('5\r\nhello\r\n0;last=1\r\n\r\n'))
  const bad = [
    ' ;ext',
    '\t;ext',
    '; ext',
    ';ext =val',
    ';ext= val',
    ';ext=val ',
    ';a b',
    ';e@',
    ';e=v@',
    ';e="open',
  ]
  for (const ext of bad)
    f.add(`bad extension ${JSON.stringify(ext)}`, chunkedPost(`5${ext}\r\nhello\r\n0\r\n\r\n`))
  f.add('bad extension ;e="x"y', chunkedPost('5;e="x"y\r\nhello\r\n0\r\n\r\n'))
  f.add('bad extension ;e=\\x01', chunkedPost('5;e=\x01\r\nhello\r\n0\r\n\r\n'))
  f.add('extension without name', chunkedPost('5;\r\nhello\r\n0\r\n\r\n'))
  f.differs(
    'extension of 5000 bytes',
    chunkedPost(`5;e=${'x'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`),
    'D19',
    400,
  )
  f.differs(
    'extension of 20000 bytes',
    chunkedPost(`5;e=${'x'.repeat(20000)}\r\nhello\r\n0\r\n\r\n`),
    'D19',
    400,
  )
  f.add(
    'extensions of 3000 bytes on 8 chunks',
    chunkedPost(`${`1;e=${'x'.repeat(3000)}\r\na\r\n`.repeat(8)}0\r\n\r\n`),
  )
  f.differs('extension =val without name', chunkedPost('5;=val\r\nhello\r\n0\r\n\r\n'), 'D15', 400)
  f.differs('extension with empty value', chunkedPost('5;ext=\r\nhello\r\n0\r\n\r\n'), 'D15', 400)
}

function trailers(f: Family): void {
  f.add('one trailer', chunkedPost('5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n'))
  f.add('two trailers', chunkedPost('5\r\nhello\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n'))
  f.add('trailer with OWS', chunkedPost('0\r\nX-A:  1 \r\n\r\n'))
  f.add('trailer Content-Length', chunkedPost('0\r\nContent-Length: 5\r\n\r\n'))
  f.add('trailer Transfer-Encoding', chunkedPost('0\r\nTransfer-Encoding: chunked\r\n\r\n'))
  f.add('trailer Host', chunkedPost('0\r\nHost: other.example\r\n\r\n'))
  f.add('trailer Connection', chunkedPost('0\r\nConnection: close\r\n\r\n'))
  f.add('trailer with invalid name', chunkedPost('0\r\nX A: 1\r\n\r\n'))
  f.add('trailer without colon', chunkedPost('0\r\nnocolon\r\n\r\n'))
  f.add('trailer obs-fold', chunkedPost('0\r\nX-A: 1\r\n 2\r\n\r\n'))
  f.add('trailer with CTL', chunkedPost('0\r\nX-A: 1\x01\r\n\r\n'))
  f.add('trailer never ends (incomplete)', chunkedPost('0\r\nX-A: 1\r\n'))
  f.differs(
    'trailer section of 17 KiB',
    chunkedPost(`0\r\nX-A: ${'t'.repeat(17 * 1024)}\r\n\r\n`),
    'D20',
    400,
  )
  f.differs('101 trailer fields', chunkedPost(`0\r\n${'X-T: 1\r\n'.repeat(101)}\r\n`), 'D11', 431)
}

export function connection(): CorpusEntry[] {
  const f = new Family('connection')
  const second = get('/second')
  f.add('close', get('/', ['Connection: close']))
  f.add('close then pipelined request (ignored)', get('/', ['Connection: close']) + second)
  f.add('Close mixed case then pipelined', get('/', ['Connection: Close']) + second)
  f.add('keep-alive in HTTP/1.1 then pipelined', get('/', ['Connection: keep-alive']) + second)
  f.add(
    'HTTP/1.0 keep-alive then pipelined',
    req('GET / HTTP/1.0', [HOST, 'Connection: keep-alive']) + second,
  )
  f.add(
    'HTTP/1.0 Keep-Alive mixed case then pipelined',
    req('GET / HTTP/1.0', [HOST, 'Connection: Keep-Alive']) + second,
  )
  f.add('HTTP/1.0 without keep-alive then pipelined', req('GET / HTTP/1.0', [HOST]) + second)
  f.add('keep-alive, close', get('/', ['Connection: keep-alive, close']) + second)
  f.add('two Connection lines', get('/', ['Connection: keep-alive', 'Connection: close']) + second)
  f.add('hop-by-hop option list', get('/', ['Connection: x-a, x-b', 'X-A: 1', 'X-B: 2']))
  // Not `close`: RFC 9110 §5.6.3 OWS is SP and HTAB only, so the connection persists.
  f.add('no-break space before close', get('/', ['Connection: \xa0close']) + second)
  f.add(
    'upgrade h2c without HTTP2-Settings option',
    get('/', ['Connection: Upgrade', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAAQAAP__']),
  )
  f.add('underscore Transfer_Encoding', get('/', ['Transfer_Encoding: chunked']))
  f.add('underscore Content_Length', get('/', ['Content_Length: 5']))
  f.add(
    'upgrade websocket',
    get('/chat', ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13']),
  )
  f.add('upgrade with keep-alive', get('/chat', ['Connection: keep-alive, Upgrade', 'Upgrade: websocket']))
  f.add('Upgrade without Connection option', get('/', ['Upgrade: websocket']) + second)
  f.add('Connection upgrade without Upgrade', get('/', ['Connection: upgrade']) + second)
  f.add('upgrade in HTTP/1.0', req('GET / HTTP/1.0', [HOST, 'Connection: upgrade', 'Upgrade: websocket']))
  f.add(
    'upgrade h2c',
    get('/', ['Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAAQAAP__']),
  )
  f.add('upgrade with body', post('data', ['Connection: upgrade', 'Upgrade: websocket']))
  return f.entries
}

export function expect(): CorpusEntry[] {
  const f = new Family('expect')
  f.add('100-continue with body', post('hello', ['Expect: 100-continue']))
  f.add('100-Continue mixed case', post('hello', ['Expect: 100-Continue']))
  f.add('100-continue without body', get('/', ['Expect: 100-continue']))
  f.add(
    '100-continue in HTTP/1.0',
    req('POST / HTTP/1.0', [HOST, 'Expect: 100-continue', 'Content-Length: 2'], 'hi'),
  )
  f.differs('unknown expectation', get('/', ['Expect: the-unexpected']), 'D10', 'accept')
  f.add('100-continue with parameter', post('hello', ['Expect: 100-continue; x=1']))
  return f.entries
}

export function pipelines(): CorpusEntry[] {
  const f = new Family('pipeline')
  const a = get('/a')
  const b = get('/b')
  f.add('GET + GET', a + b)
  f.add('GET x3', a + b + get('/c'))
  f.add('POST (CL) + GET', post('hello') + b)
  f.add('POST (CL 0) + GET', post('') + b)
  f.add('chunked + GET', chunkedPost('5\r\nhello\r\n0\r\n\r\n') + b)
  f.add('chunked with trailer + GET', chunkedPost('0\r\nX-T: 1\r\n\r\n') + b)
  f.add('GET + POST + chunked', a + post('xy') + chunkedPost('2\r\nzz\r\n0\r\n\r\n'))
  f.add('GET + malformed', `${a}GET / HTTP/1.1\r\nHost: example.com\r\nBad Name: v\r\n\r\n`)
  f.add('GET + missing Host', `${a}GET / HTTP/1.1\r\n\r\n`)
  f.add(
    'GET + CL+TE smuggle attempt',
    a + req('POST / HTTP/1.1', [HOST, 'Content-Length: 4', 'Transfer-Encoding: chunked'], '0\r\n\r\n'),
  )
  f.add('GET + garbage', `${a}xyz\r\n\r\n`)
  f.add('GET + CRLF + GET', `${a}\r\n${b}`)
  f.add('HTTP/1.0 keep-alive + HTTP/1.1', req('GET /a HTTP/1.0', [HOST, 'Connection: keep-alive']) + b)
  f.add('body that looks like a request', post('GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n') + b)
  const inner = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'
  f.add(
    'chunk that looks like a request',
    chunkedPost(`${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`) + b,
  )
  return f.entries
}
