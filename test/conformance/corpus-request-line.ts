/**
 * Corpus families for the request line (RFC 9112 §3): methods, the four
 * request-target forms, HTTP versions, separators and empty lines before it.
 */
import { type CorpusEntry, Family, get, HOST, hex, req } from './corpus-build.ts'

/** Methods node's llhttp knows besides the RFC 9110 ones; all are tokens to Portcullis. */
const LLHTTP_METHODS = [
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'SEARCH',
  'REPORT',
  'MKACTIVITY',
  'CHECKOUT',
  'MERGE',
  'M-SEARCH',
  'NOTIFY',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'PURGE',
  'MKCALENDAR',
  'LINK',
  'UNLINK',
  'SOURCE',
  'QUERY',
  'BIND',
  'REBIND',
  'UNBIND',
  'ACL',
]

export function methods(): CorpusEntry[] {
  const f = new Family('method')
  for (const m of ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']) f.add(m, req(`${m} / HTTP/1.1`))
  for (const m of ['POST', 'PUT', 'PATCH']) {
    f.add(`${m} with body`, req(`${m} /r HTTP/1.1`, [HOST, 'Content-Length: 3'], 'abc'))
  }
  f.add('DELETE with body', req('DELETE /r HTTP/1.1', [HOST, 'Content-Length: 2'], 'ok'))
  f.add('GET with body', req('GET /r HTTP/1.1', [HOST, 'Content-Length: 4'], 'body'))
  for (const m of LLHTTP_METHODS) f.add(`llhttp-known ${m}`, req(`${m} / HTTP/1.1`))
  const extension = ['FOO', 'BREW', 'get', 'Get', 'X-CUSTOM', "!#$%&'*+-.^_`|~", '123', 'GET2', 'POSTX']
  for (const m of extension) f.differs(`extension token ${m}`, req(`${m} / HTTP/1.1`), 'D01', 'accept')
  for (const m of ['GE@T', 'GE(T', 'GE)T', 'GE"T', 'GE:T', 'GE,T', 'GE/T', 'GE;T', 'GE[T', 'GE{T}', 'GE=T']) {
    f.add(`invalid char in ${m}`, req(`${m} / HTTP/1.1`))
  }
  for (const c of [0x00, 0x01, 0x09, 0x0b, 0x7f, 0x80, 0xc9, 0xff]) {
    f.add(`invalid byte ${hex(c)} in method`, req(`GE${String.fromCharCode(c)}T / HTTP/1.1`))
  }
  f.add('empty method', req(' / HTTP/1.1'))
  f.add('leading space before method', req(' GET / HTTP/1.1'))
  return f.entries
}

export function targets(): CorpusEntry[] {
  const f = new Family('target')
  const origin = [
    '/',
    '/a/b/c',
    '/a?b=c&d=e',
    '/?',
    '/a?',
    '//double',
    '/a;p=1',
    '/~user',
    '/%41%42',
    '/%zz',
    "/!$&'()*+,;=:@",
    '/a/./b/../c',
    '/a?q=/?:@',
    '/"',
    '/<>',
    '/\\',
    '/^',
    '/`',
    '/{}',
    '/|',
    '/[]',
  ]
  for (const t of origin) f.add(`origin-form ${t}`, get(t))
  for (const c of [0x00, 0x01, 0x09, 0x0b, 0x0c, 0x7f, 0x80, 0xe9, 0xff]) {
    f.add(`origin-form with byte ${hex(c)}`, get(`/a${String.fromCharCode(c)}b`))
  }
  f.add('space inside target', get('/a b'))
  for (const t of ['/a#frag', '/admin#x', '/a?q#f', 'http://example.com/p#frag'])
    f.differs(`fragment ${t}`, get(t), 'D21', 400)
  for (const t of ['a', 'a/b', '?q', '#f', 'example.com:80']) f.add(`relative ${t}`, get(t))
  f.add('empty target', req('GET  HTTP/1.1'))
  absoluteForm(f)
  f.add('asterisk-form OPTIONS', req('OPTIONS * HTTP/1.1'))
  f.differs('asterisk-form OPTIONS with suffix', req('OPTIONS *x HTTP/1.1'), 'D06', 400)
  f.differs('asterisk-form GET', req('GET * HTTP/1.1'), 'D06', 400)
  f.differs('asterisk-form POST', req('POST * HTTP/1.1', [HOST, 'Content-Length: 0']), 'D06', 400)
  // A reverse-proxy listener has no authority-form (RFC 9112 §3.2.3): node closes, Portcullis answers 400.
  f.add('authority-form CONNECT', req('CONNECT example.com:443 HTTP/1.1', ['Host: example.com:443']))
  f.add('authority-form CONNECT IPv6', req('CONNECT [::1]:443 HTTP/1.1', ['Host: [::1]:443']))
  f.add('authority-form CONNECT without port', req('CONNECT example.com HTTP/1.1', [HOST]))
  f.add('CONNECT with origin-form', req('CONNECT / HTTP/1.1'))
  return f.entries
}

function absoluteForm(f: Family): void {
  const ok = [
    'http://example.com',
    'http://example.com/',
    'http://example.com/p?q=1',
    'http://example.com?q=1',
    'HTTP://EXAMPLE.COM/p',
    'https://example.com/p',
    'http://example.com:8080/p',
    'http://[::1]:8080/p',
    'http://127.0.0.1/p',
    'http://other.example/p',
  ]
  for (const t of ok) f.add(`absolute-form ${t}`, get(t))
  f.add('absolute-form without Host field', req('GET http://example.com/p HTTP/1.1', []))
  f.add('absolute-form HTTP/1.0 without Host', req('GET http://example.com/p HTTP/1.0', []))
  f.add('absolute-form invalid http:/p', get('http:/p'))
  for (const t of ['http://user@example.com/', 'http://user:pw@example.com/p', 'http:///p', 'http://']) {
    f.differs(`absolute-form invalid ${t}`, get(t), 'D16', 400)
  }
  for (const t of ['ftp://example.com/', 'ws://example.com/', 'foo://bar/']) {
    f.differs(`absolute-form scheme ${t}`, get(t), 'D07', 400)
  }
}

export function versions(): CorpusEntry[] {
  const f = new Family('version')
  f.add('HTTP/1.1', get())
  f.add('HTTP/1.0 without Host', req('GET / HTTP/1.0', []))
  f.add('HTTP/1.0 with Host', req('GET / HTTP/1.0'))
  f.differs('HTTP/0.9 request line', req('GET / HTTP/0.9', []), 'D04', 505)
  f.differs('HTTP/2.0 request line', get('/').replace('HTTP/1.1', 'HTTP/2.0'), 'D04', 505)
  f.differs('HTTP/0.9 simple request', 'GET /\r\n\r\n', 'D05', 400)
  const invalid = ['HTTP/1.2', 'HTTP/1.9', 'HTTP/3.0', 'HTTP/9.9', 'HTTP/2.1', 'HTTP/0.0', 'HTTP/1.10']
  for (const v of invalid) f.add(`${v}`, req(`GET / ${v}`))
  const garbage = [
    'http/1.1',
    'HTTP/1.1x',
    'HTTP/11',
    'HTTP/1.',
    'HTTP/1',
    'HTTP/ 1.1',
    'HTTP/1.01',
    'HTTPS/1.1',
  ]
  for (const v of garbage) f.add(`garbage ${v}`, req(`GET / ${v}`))
  f.add('garbage HTP/1.1', req('GET / HTP/1.1'))
  f.add('garbage HTTP1.1', req('GET / HTTP1.1'))
  f.add('trailing space after version', req('GET / HTTP/1.1 '))
  f.differs('two spaces before version', req('GET /  HTTP/1.1'), 'D17', 400)
  f.differs('two spaces after method', req('GET  / HTTP/1.1'), 'D17', 400)
  f.add('tab separators', req('GET\t/\tHTTP/1.1'))
  f.add('missing target', req('GET HTTP/1.1'))
  f.add('method only', req('GET'))
  f.add('HTTP/2 connection preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
  return f.entries
}

export function leadingLines(): CorpusEntry[] {
  const f = new Family('leading empty lines')
  for (const n of [1, 2, 4, 5]) f.add(`${n} CRLF`, '\r\n'.repeat(n) + get())
  f.differs('6 CRLF', '\r\n'.repeat(6) + get(), 'D13', 400)
  f.differs('10 CRLF', '\r\n'.repeat(10) + get(), 'D13', 400)
  f.differs('bare LF', `\n${get()}`, 'D13', 400)
  f.differs('CRLF then bare LF', `\r\n\n${get()}`, 'D13', 400)
  f.differs('bare CR', `\r${get()}`, 'D13', 400)
  f.add('space line', ` \r\n${get()}`)
  return f.entries
}
