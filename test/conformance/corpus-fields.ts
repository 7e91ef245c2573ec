/**
 * Corpus families for field lines (RFC 9112 §5, RFC 9110 §5.5): Host, field
 * names, field values, obs-fold, bare CR/LF at every kind of position, and the
 * size and count limits of a head.
 */
import { type CorpusEntry, Family, get, HOST, hex, req } from './corpus-build.ts'

/** RFC 9110 §5.6.2 tchar minus ALPHA and DIGIT. */
const TCHAR_SPECIALS = "!#$%&'*+-.^_`|~"
/** Characters that are not tchar and may appear inside a name on the wire. */
const NAME_DELIMITERS = '"(),/;<=>?@[\\]{}'

export function host(): CorpusEntry[] {
  const f = new Family('host')
  const ok = [
    'example.com',
    'EXAMPLE.com',
    'example.com:8080',
    'example.com:',
    '127.0.0.1:80',
    '[::1]',
    '[::1]:8080',
  ]
  for (const h of ok) f.add(`valid ${h}`, req('GET / HTTP/1.1', [`Host: ${h}`]))
  for (const h of ['a_b.example', 'xn--bcher-kva.example', '%65xample.com']) {
    f.add(`valid reg-name ${h}`, req('GET / HTTP/1.1', [`Host: ${h}`]))
  }
  f.add('empty value', req('GET / HTTP/1.1', ['Host:']))
  f.add('lowercase name', req('GET / HTTP/1.1', ['host: example.com']))
  f.add('missing in HTTP/1.1', req('GET / HTTP/1.1', ['Accept: */*']))
  f.add('missing in HTTP/1.0', req('GET / HTTP/1.0', ['Accept: */*']))
  f.add('missing with body', req('POST / HTTP/1.1', ['Content-Length: 1'], 'x'))
  f.differs('duplicate same', req('GET / HTTP/1.1', [HOST, HOST]), 'D02', 400)
  f.differs('duplicate different', req('GET / HTTP/1.1', [HOST, 'Host: evil.example']), 'D02', 400)
  f.differs('duplicate in HTTP/1.0', req('GET / HTTP/1.0', [HOST, 'Host: evil.example']), 'D02', 400)
  f.differs('duplicate with absolute-form', req('GET http://example.com/ HTTP/1.1', [HOST, HOST]), 'D02', 400)
  const invalid = [
    'a b',
    'a/b',
    'user@example.com',
    'example.com:port',
    'example.com:80:90',
    '[::1',
    'exa"mple',
  ]
  for (const h of invalid) f.differs(`invalid ${h}`, req('GET / HTTP/1.1', [`Host: ${h}`]), 'D03', 400)
  f.differs('invalid obs-text', req('GET / HTTP/1.1', ['Host: ex\xe4mple.com']), 'D03', 400)
  f.differs('invalid list', req('GET / HTTP/1.1', ['Host: a.example, b.example']), 'D03', 400)
  return f.entries
}

export function fieldNames(): CorpusEntry[] {
  const f = new Family('field name')
  for (const c of TCHAR_SPECIALS) {
    f.add(`tchar ${c} inside`, get('/', [`X${c}Y: v`]))
    f.add(`tchar ${c} alone`, get('/', [`${c}: v`]))
  }
  f.add('all digits', get('/', ['0123456789: v']))
  f.add('all lowercase letters', get('/', ['abcdefghijklmnopqrstuvwxyz: v']))
  f.add('all uppercase letters', get('/', ['ABCDEFGHIJKLMNOPQRSTUVWXYZ: v']))
  f.add('long name', get('/', [`${'N'.repeat(1000)}: v`]))
  for (const c of NAME_DELIMITERS) f.add(`delimiter ${c}`, get('/', [`X${c}Y: v`]))
  f.add('space before colon', get('/', ['X-Name : v']))
  f.add('tab before colon', get('/', ['X-Name\t: v']))
  f.add('space inside name', get('/', ['X Name: v']))
  f.add('space before colon on Host', req('GET / HTTP/1.1', ['Host : example.com']))
  f.add('space before colon on Content-Length', req('POST / HTTP/1.1', [HOST, 'Content-Length : 1'], 'x'))
  for (const c of [0x00, 0x01, 0x7f, 0x80, 0xe9, 0xff]) {
    f.add(`byte ${hex(c)} in name`, get('/', [`X${String.fromCharCode(c)}Y: v`]))
  }
  f.add('empty name', get('/', [': v']))
  f.add('colon only', get('/', [':']))
  f.add('no colon', get('/', ['NoColonHere']))
  f.add('name only with space', get('/', ['X-Name v']))
  return f.entries
}

export function fieldValues(): CorpusEntry[] {
  const f = new Family('field value')
  for (let c = 0; c < 0x20; c++) {
    if (c === 0x09 || c === 0x0a || c === 0x0d) continue
    f.add(`CTL ${hex(c)} inside`, get('/', [`X: a${String.fromCharCode(c)}b`]))
  }
  f.add('DEL inside', get('/', ['X: a\x7fb']))
  f.add('NUL at start', get('/', ['X: \x00b']))
  f.add('NUL at end', get('/', ['X: a\x00']))
  f.add('CTL in Host', req('GET / HTTP/1.1', ['Host: exa\x01mple.com']))
  f.add('HTAB inside', get('/', ['X: a\tb']))
  for (const c of [0x80, 0xa0, 0xe9, 0xff])
    f.add(`obs-text ${hex(c)}`, get('/', [`X: a${String.fromCharCode(c)}b`]))
  f.add('UTF-8 bytes', get('/', ['X: gr\xc3\xbc\xc3\x9f']))
  const ows: [string, string][] = [
    ['leading SP', 'X:  v'],
    ['leading HTAB', 'X:\tv'],
    ['no space', 'X:v'],
    ['trailing SP', 'X: v '],
    ['trailing HTAB', 'X: v\t'],
    ['both sides', 'X: \t v \t '],
    ['inner spaces kept', 'X: a  b'],
    ['empty', 'X:'],
    ['only whitespace', 'X:   \t'],
    ['colon in value', 'X: a:b::c'],
    ['quoted', 'X: "a, b"'],
  ]
  for (const [variant, line] of ows) f.add(variant, get('/', [line]))
  f.add('8 KiB value', get('/', [`X: ${'v'.repeat(8192)}`]))
  f.add('same name twice', get('/', ['X: 1', 'X: 2']))
  f.add('mixed case names', get('/', ['x-a: 1', 'X-A: 2', 'x-A: 3']))
  return f.entries
}

export function obsFold(): CorpusEntry[] {
  const f = new Family('obs-fold')
  f.add('SP continuation', get('/', ['X: a', ' b']))
  f.add('HTAB continuation', get('/', ['X: a', '\tb']))
  f.add('continuation of Host', req('GET / HTTP/1.1', ['Host: example', ' .com']))
  f.add('continuation of Content-Length', req('POST / HTTP/1.1', [HOST, 'Content-Length:', ' 1'], 'x'))
  f.add(
    'continuation of Transfer-Encoding',
    req('POST / HTTP/1.1', [HOST, 'Transfer-Encoding:', ' chunked'], '0\r\n\r\n'),
  )
  f.add('first field line starts with SP', req('GET / HTTP/1.1', [' X: a', HOST]))
  f.add('first field line starts with HTAB', req('GET / HTTP/1.1', ['\tX: a', HOST]))
  f.add('whitespace-only line', get('/', ['X: a', ' ']))
  return f.entries
}

/**
 * lineEndings puts a bare LF or a bare CR at each kind of position of a
 * message with a head, a chunked body and a trailer: every place where a
 * parser could disagree about where a line ends.
 */
export function lineEndings(): CorpusEntry[] {
  const f = new Family('line ending')
  const body = '5;e=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n'
  const base = `POST /p HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nX-A: v\r\n\r\n${body}`
  const positions: [string, (s: string) => string][] = [
    ['as request-line end', (s) => base.replace('HTTP/1.1\r\n', `HTTP/1.1${s}`)],
    ['as field-line end', (s) => base.replace('example.com\r\n', `example.com${s}`)],
    ['as last field-line end', (s) => base.replace('X-A: v\r\n', `X-A: v${s}`)],
    ['as blank line', (s) => base.replace('X-A: v\r\n\r\n', `X-A: v\r\n${s}`)],
    ['inside method', (s) => base.replace('POST', `PO${s}ST`)],
    ['inside target', (s) => base.replace('/p ', `/${s}p `)],
    ['inside version', (s) => base.replace('HTTP/1.1', `HTTP/${s}1.1`)],
    ['inside field name', (s) => base.replace('X-A:', `X-${s}A:`)],
    ['before colon', (s) => base.replace('X-A:', `X-A${s}:`)],
    ['inside field value', (s) => base.replace('X-A: v', `X-A: v${s}w`)],
    ['after colon', (s) => base.replace('X-A: v', `X-A:${s} v`)],
    ['as chunk-size line end', (s) => base.replace('5;e=1\r\n', `5;e=1${s}`)],
    ['inside chunk extension', (s) => base.replace('5;e=1', `5;e${s}=1`)],
    ['as chunk-data end', (s) => base.replace('hello\r\n', `hello${s}`)],
    ['as last-chunk line end', (s) => base.replace('0\r\nX-T', `0${s}X-T`)],
    ['as trailer line end', (s) => base.replace('X-T: 1\r\n', `X-T: 1${s}`)],
    ['as final blank line', (s) => base.replace(/\r\n$/, s)],
  ]
  f.add('reference (all CRLF)', base)
  for (const [where, build] of positions) {
    f.add(`bare LF ${where}`, build('\n'))
    f.add(`bare CR ${where}`, build('\r'))
  }
  f.add('LF LF head end', 'GET / HTTP/1.1\nHost: example.com\n\n')
  f.add('CR CR head end', 'GET / HTTP/1.1\rHost: example.com\r\r')
  f.add('LF CR LF head end', 'GET / HTTP/1.1\r\nHost: example.com\n\r\n')
  f.add('CR LF CR head end', 'GET / HTTP/1.1\r\nHost: example.com\r\n\r')
  return f.entries
}

export function limits(): CorpusEntry[] {
  const f = new Family('limits')
  f.add('15 KiB head', get('/', [`X: ${'a'.repeat(15 * 1024)}`]))
  f.add('17 KiB single field', get('/', [`X: ${'a'.repeat(17 * 1024)}`]))
  f.add(
    '20 KiB over many fields',
    get(
      '/',
      Array.from({ length: 40 }, (_, i) => `X-${i}: ${'b'.repeat(500)}`),
    ),
  )
  f.add('64 KiB head', get('/', [`X: ${'a'.repeat(64 * 1024)}`]))
  f.add('17 KiB head never ending', `GET / HTTP/1.1\r\nHost: example.com\r\nX: ${'a'.repeat(17 * 1024)}`)
  f.add(
    '99 fields plus Host',
    get(
      '/',
      Array.from({ length: 99 }, (_, i) => `X-${i}: v`),
    ),
  )
  const many = (n: number) =>
    get(
      '/',
      Array.from({ length: n }, (_, i) => `X-${i}: v`),
    )
  f.differs('101 fields', many(100), 'D11', 431)
  f.differs('500 fields', many(499), 'D11', 431)
  f.add('target of 8000 bytes', get(`/${'t'.repeat(7999)}`))
  f.add('target of 8192 bytes', get(`/${'t'.repeat(8191)}`))
  f.differs('target of 8193 bytes', get(`/${'t'.repeat(8192)}`), 'D12', 414)
  f.differs('target of 12000 bytes', get(`/${'t'.repeat(11999)}`), 'D12', 414)
  f.add('target of 17000 bytes', get(`/${'t'.repeat(16999)}`))
  f.add('request line of 17000 bytes never ending', `GET /${'t'.repeat(16999)}`)
  return f.entries
}
