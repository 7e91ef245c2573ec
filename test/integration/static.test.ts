/**
 * The `static` route action over real sockets: content types, validators and
 * 304/412, ranges (single, multipart, 416), HEAD, index files and directory
 * redirects, precompressed siblings, a 200 MB file streamed with flat memory,
 * and every path traversal attempt we know of.
 */
import assert from 'node:assert/strict'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Session } from '../../src/core/session.ts'
import { type GatewayHandle, startGateway } from '../helpers/gateway.ts'
import { type ClientResponse, RawClient } from '../helpers/raw-client.ts'

const SECRET = 'TOP-SECRET-CONTENT'
const DIGITS = '0123456789'.repeat(100) // 1000 bytes
const JS = 'console.log("identity")\n'
const JS_BR = 'BROTLI-BYTES-OF-APP-JS'
const JS_GZ = 'GZIP-BYTES-OF-APP-JS'

let base: string
let pub: string
let gw: GatewayHandle

before(async () => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'portcullis-static-')))
  pub = join(base, 'public')
  const files: Record<string, string> = {
    'index.html': '<h1>home</h1>\n',
    'hello.txt': 'hello\n',
    'style.css': 'body{}\n',
    'app.js': JS,
    'app.js.br': JS_BR,
    'app.js.gz': JS_GZ,
    'only-gz.css': 'a{}\n',
    'only-gz.css.gz': 'GZ-ONLY',
    'data.json': '{"a":1}\n',
    'logo.svg': '<svg/>\n',
    'image.png': '\x89PNG',
    'blob.unknownext': 'blob',
    README: 'readme',
    'digits.txt': DIGITS,
    'empty.txt': '',
    'sub/index.html': '<h1>sub</h1>\n',
    'sub/page.html': 'page',
    'no-index/file.txt': 'x',
    '.env': 'DOTENV=1',
    '.git/config': '[core]',
  }
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(pub, name, '..'), { recursive: true })
    writeFileSync(join(pub, name), content, 'latin1')
  }
  writeFileSync(join(base, 'secret.txt'), SECRET)
  writeFileSync(join(base, 'public-secret.txt'), SECRET) // shares the root's name as a prefix
  symlinkSync(join(base, 'secret.txt'), join(pub, 'link-out.txt'))
  symlinkSync(base, join(pub, 'dir-out'))
  symlinkSync('hello.txt', join(pub, 'alias.txt'))
  symlinkSync(join(pub, 'sub'), join(pub, 'sub-alias'))
  // A precompressed sibling and an index file that lead out of the root.
  writeFileSync(join(pub, 'leaky.js'), JS)
  symlinkSync(join(base, 'secret.txt'), join(pub, 'leaky.js.br'))
  mkdirSync(join(pub, 'leaky-dir'))
  symlinkSync(join(base, 'secret.txt'), join(pub, 'leaky-dir', 'index.html'))
  gw = await startGateway({
    routes: [
      { match: { path: '/assets' }, static: { root: pub } },
      { match: { path: '/dot' }, static: { root: pub, dotfiles: 'allow' } },
      { match: { path: '/cached' }, static: { root: pub, maxAge: '1h', precompressed: false } },
      { match: { path: '/whole' }, static: { root: pub, stripPrefix: false } },
    ],
  })
})

after(async () => {
  await gw.close()
  rmSync(base, { recursive: true, force: true })
})

/** request sends one request on a new connection and reads the response. */
async function request(
  target: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<ClientResponse> {
  const c = await RawClient.connect(gw.port)
  try {
    let head = `${method} ${target} HTTP/1.1\r\nHost: test\r\n`
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
    c.write(`${head}\r\n`)
    return await c.response({ head: method === 'HEAD' })
  } finally {
    c.destroy()
  }
}

describe('static files: content', () => {
  for (const [name, type] of [
    ['index.html', 'text/html; charset=utf-8'],
    ['style.css', 'text/css; charset=utf-8'],
    ['app.js', 'text/javascript; charset=utf-8'],
    ['data.json', 'application/json; charset=utf-8'],
    ['logo.svg', 'image/svg+xml; charset=utf-8'],
    ['hello.txt', 'text/plain; charset=utf-8'],
    ['image.png', 'image/png'],
    ['blob.unknownext', 'application/octet-stream'],
    ['README', 'application/octet-stream'],
  ]) {
    it(`serves ${name} as ${type}`, async () => {
      const res = await request(`/assets/${name}`)
      assert.equal(res.status, 200)
      assert.equal(res.headers['content-type'], type)
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.equal(res.headers['accept-ranges'], 'bytes')
      assert.equal(res.headers['content-length'], String(statSync(join(pub, name)).size))
      assert.deepEqual(res.body, readFileSync(join(pub, name)))
    })
  }

  it('serves an empty file with Content-Length 0', async () => {
    const res = await request('/assets/empty.txt')
    assert.equal(res.status, 200)
    assert.equal(res.headers['content-length'], '0')
  })

  it('answers a missing file 404 and ignores the query', async () => {
    assert.equal((await request('/assets/missing.txt')).status, 404)
    assert.equal((await request('/assets/hello.txt?v=3')).body.toString(), 'hello\n')
  })

  it('answers other methods 405 with Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const res = await request('/assets/hello.txt', { 'Content-Length': '0' }, method)
      assert.equal(res.status, 405, method)
      assert.equal(res.headers.allow, 'GET, HEAD')
    }
  })

  it('sends Cache-Control: max-age when configured, none otherwise', async () => {
    assert.equal((await request('/cached/hello.txt')).headers['cache-control'], 'max-age=3600')
    assert.equal((await request('/assets/hello.txt')).headers['cache-control'], undefined)
  })

  it('answers 500 INTERNAL_ERROR when the root disappears while running', async (t) => {
    const gone = join(base, 'gone')
    mkdirSync(gone)
    const server = await startGateway({ routes: [{ match: {}, static: { root: gone } }] }, { t })
    rmSync(gone, { recursive: true })
    const c = await RawClient.connect(server.port, t)
    c.write('GET /x HTTP/1.1\r\nHost: t\r\n\r\n')
    const res = await c.response()
    assert.equal(res.status, 500)
    assert.match(res.body.toString(), /INTERNAL_ERROR/)
  })

  it('runs the user onRequest hooks before serving, so they can guard files', async (t) => {
    const server = await startGateway(
      { routes: [{ match: { path: '/assets' }, static: { root: pub } }] },
      {
        t,
        hooks: {
          onRequest: (s: Session) =>
            s.header('authorization') === 'Bearer ok'
              ? undefined
              : { kind: 'respond', response: { status: 401 } },
        },
      },
    )
    const c = await RawClient.connect(server.port, t)
    c.write('GET /assets/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n')
    assert.equal((await c.response()).status, 401)
    c.write('GET /assets/hello.txt HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ok\r\n\r\n')
    assert.equal((await c.response()).status, 200)
  })

  it('keeps the route prefix when stripPrefix is false', async () => {
    assert.equal((await request('/whole/hello.txt')).status, 404) // looks for ROOT/whole/hello.txt
  })

  it('answers HEAD with the head only: same fields, correct Content-Length, no body', async () => {
    const get = await request('/assets/digits.txt')
    const c = await RawClient.connect(gw.port)
    try {
      c.write(
        'HEAD /assets/digits.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /assets/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n',
      )
      const head = await c.response({ head: true })
      assert.equal(head.status, 200)
      assert.equal(head.headers['content-length'], '1000')
      assert.equal(head.headers.etag, get.headers.etag)
      assert.equal(head.headers['content-type'], get.headers['content-type'])
      // Had a body followed the HEAD response, this would read it instead of the next response.
      const next = await c.response()
      assert.equal(next.status, 200)
      assert.equal(next.body.toString(), 'hello\n')
    } finally {
      c.destroy()
    }
  })

  it('HEAD ignores Range', async () => {
    const res = await request('/assets/digits.txt', { Range: 'bytes=0-9' }, 'HEAD')
    assert.equal(res.status, 200)
    assert.equal(res.headers['content-length'], '1000')
  })
})

describe('static files: validators and conditional requests', () => {
  it('sends a strong ETag and Last-Modified', async () => {
    const res = await request('/assets/hello.txt')
    assert.match(res.headers.etag!, /^"[0-9a-f]+-[0-9a-f]+"$/)
    const mtime = statSync(join(pub, 'hello.txt')).mtimeMs
    assert.equal(res.headers['last-modified'], new Date(Math.floor(mtime / 1000) * 1000).toUTCString())
  })

  it('answers 304 to a matching If-None-Match (exact, weak, list, *), with validators and no body', async () => {
    const { headers } = await request('/assets/hello.txt')
    for (const inm of [headers.etag!, `W/${headers.etag}`, `"nope", ${headers.etag}`, '*']) {
      const res = await request('/assets/hello.txt', { 'If-None-Match': inm })
      assert.equal(res.status, 304, inm)
      assert.equal(res.headers.etag, headers.etag)
      assert.equal(res.headers['content-length'], undefined, 'no Content-Length on a 304')
    }
    assert.equal((await request('/assets/hello.txt', { 'If-None-Match': '"nope"' })).status, 200)
  })

  it('a 304 leaves the keep-alive connection usable', async () => {
    const { headers } = await request('/assets/hello.txt')
    const c = await RawClient.connect(gw.port)
    try {
      c.write(`GET /assets/hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: ${headers.etag}\r\n\r\n`)
      assert.equal((await c.response()).status, 304)
      c.write('GET /assets/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n')
      assert.equal((await c.response()).body.toString(), 'hello\n')
    } finally {
      c.destroy()
    }
  })

  it('answers 304 to If-Modified-Since not earlier than Last-Modified', async () => {
    const { headers } = await request('/assets/hello.txt')
    const lm = Date.parse(headers['last-modified']!)
    assert.equal(
      (await request('/assets/hello.txt', { 'If-Modified-Since': headers['last-modified']! })).status,
      304,
    )
    const earlier = new Date(lm - 10_000).toUTCString()
    assert.equal((await request('/assets/hello.txt', { 'If-Modified-Since': earlier })).status, 200)
    // If-None-Match takes precedence (RFC 9110 §13.1.3).
    const both = { 'If-None-Match': '"nope"', 'If-Modified-Since': headers['last-modified']! }
    assert.equal((await request('/assets/hello.txt', both)).status, 200)
  })

  it('answers 412 when If-Match or If-Unmodified-Since fails', async () => {
    const { headers } = await request('/assets/hello.txt')
    assert.equal((await request('/assets/hello.txt', { 'If-Match': '"nope"' })).status, 412)
    assert.equal((await request('/assets/hello.txt', { 'If-Match': headers.etag! })).status, 200)
    const earlier = new Date(Date.parse(headers['last-modified']!) - 10_000).toUTCString()
    assert.equal((await request('/assets/hello.txt', { 'If-Unmodified-Since': earlier })).status, 412)
  })
})

describe('static files: ranges', () => {
  it('answers a single range with 206 and Content-Range', async () => {
    for (const [spec, start, end] of [
      ['bytes=0-9', 0, 9],
      ['bytes=990-', 990, 999],
      ['bytes=-5', 995, 999],
      ['bytes=995-5000', 995, 999],
    ] as const) {
      const res = await request('/assets/digits.txt', { Range: spec })
      assert.equal(res.status, 206, spec)
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/1000`)
      assert.equal(res.headers['content-length'], String(end - start + 1))
      assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
      assert.equal(res.body.toString(), DIGITS.slice(start, end + 1))
    }
  })

  it('answers several ranges with multipart/byteranges, each part with its bytes', async () => {
    const res = await request('/assets/digits.txt', { Range: 'bytes=500-504, 0-2, -3' })
    assert.equal(res.status, 206)
    const m = /^multipart\/byteranges; boundary=(\S+)$/.exec(res.headers['content-type']!)
    assert.ok(m, res.headers['content-type'])
    assert.equal(res.headers['content-length'], String(res.body.length))
    const parts = parseMultipart(res.body, m[1]!)
    assert.deepEqual(
      parts.map((p) => [p.headers['content-range'], p.headers['content-type'], p.body]),
      [
        ['bytes 500-504/1000', 'text/plain; charset=utf-8', DIGITS.slice(500, 505)],
        ['bytes 0-2/1000', 'text/plain; charset=utf-8', DIGITS.slice(0, 3)],
        ['bytes 997-999/1000', 'text/plain; charset=utf-8', DIGITS.slice(997)],
      ],
    )
  })

  it('answers 416 with Content-Range bytes */size when no range is satisfiable', async () => {
    for (const spec of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0', 'bytes=1000-1001, 2000-']) {
      const res = await request('/assets/digits.txt', { Range: spec })
      assert.equal(res.status, 416, spec)
      assert.equal(res.headers['content-range'], 'bytes */1000')
    }
  })

  it('serves the whole file for invalid, overlapping or too many ranges', async () => {
    const many = Array.from({ length: 17 }, (_, i) => `${i * 10}-${i * 10}`).join(',')
    for (const spec of ['bytes=9-1', 'lines=0-1', 'bytes=0-100,50-150', `bytes=${many}`]) {
      const res = await request('/assets/digits.txt', { Range: spec })
      assert.equal(res.status, 200, spec)
      assert.equal(res.body.toString(), DIGITS)
    }
  })

  it('applies If-Range: ranges when it names the current ETag, the whole file otherwise', async () => {
    const { headers } = await request('/assets/digits.txt')
    const hit = await request('/assets/digits.txt', { Range: 'bytes=0-1', 'If-Range': headers.etag! })
    assert.equal(hit.status, 206)
    const stale = await request('/assets/digits.txt', { Range: 'bytes=0-1', 'If-Range': '"old"' })
    assert.equal(stale.status, 200)
    assert.equal(stale.body.length, 1000)
    const byDate = await request('/assets/digits.txt', {
      Range: 'bytes=0-1',
      'If-Range': headers['last-modified']!,
    })
    assert.equal(byDate.status, 206)
  })
})

describe('static files: directories', () => {
  it('serves the index file of a directory named with a slash', async () => {
    assert.equal((await request('/assets/')).body.toString(), '<h1>home</h1>\n')
    const sub = await request('/assets/sub/')
    assert.equal(sub.status, 200)
    assert.equal(sub.headers['content-type'], 'text/html; charset=utf-8')
    assert.equal(sub.body.toString(), '<h1>sub</h1>\n')
  })

  it('redirects a directory without its slash (301), keeping the query', async () => {
    for (const [target, location] of [
      ['/assets', '/assets/'],
      ['/assets/sub', '/assets/sub/'],
      ['/assets/sub?x=1', '/assets/sub/?x=1'],
    ]) {
      const res = await request(target!)
      assert.equal(res.status, 301, target)
      assert.equal(res.headers.location, location)
    }
  })

  it('answers 404 for a directory without an index (no listing) and for a file named as a directory', async () => {
    assert.equal((await request('/assets/no-index/')).status, 404)
    assert.equal((await request('/assets/hello.txt/')).status, 404)
  })
})

describe('static files: precompressed siblings', () => {
  it('serves FILE.br or FILE.gz when accepted, with Content-Encoding, Vary and its own ETag', async () => {
    const identity = await request('/assets/app.js')
    assert.equal(identity.body.toString(), JS)
    assert.equal(identity.headers['content-encoding'], undefined)
    assert.equal(identity.headers.vary, 'Accept-Encoding')
    const cases = [
      ['gzip, deflate, br', 'br', JS_BR],
      ['br', 'br', JS_BR],
      ['gzip', 'gzip', JS_GZ],
      ['gzip, br;q=0.5', 'gzip', JS_GZ],
      ['*', 'br', JS_BR],
    ] as const
    const etags = new Set([identity.headers.etag])
    for (const [ae, coding, body] of cases) {
      const res = await request('/assets/app.js', { 'Accept-Encoding': ae })
      assert.equal(res.headers['content-encoding'], coding, ae)
      assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8')
      assert.equal(res.headers.vary, 'Accept-Encoding')
      assert.equal(res.headers['content-length'], String(body.length))
      assert.equal(res.body.toString(), body)
      etags.add(res.headers.etag)
    }
    assert.equal(etags.size, 3, 'identity, br and gzip each have their own ETag')
  })

  it('serves identity when no sibling coding is accepted', async () => {
    for (const ae of ['identity', 'br;q=0, gzip;q=0', 'deflate', '*;q=0']) {
      const res = await request('/assets/app.js', { 'Accept-Encoding': ae })
      assert.equal(res.headers['content-encoding'], undefined, ae)
      assert.equal(res.body.toString(), JS)
    }
  })

  it('falls back to the sibling that exists', async () => {
    const res = await request('/assets/only-gz.css', { 'Accept-Encoding': 'br, gzip' })
    assert.equal(res.headers['content-encoding'], 'gzip')
    assert.equal(res.body.toString(), 'GZ-ONLY')
  })

  it('applies ranges and validators to the encoded representation', async () => {
    const res = await request('/assets/app.js', { 'Accept-Encoding': 'br', Range: 'bytes=0-5' })
    assert.equal(res.status, 206)
    assert.equal(res.headers['content-range'], `bytes 0-5/${JS_BR.length}`)
    assert.equal(res.body.toString(), JS_BR.slice(0, 6))
    const br = await request('/assets/app.js', { 'Accept-Encoding': 'br' })
    const notModified = await request('/assets/app.js', {
      'Accept-Encoding': 'br',
      'If-None-Match': br.headers.etag!,
    })
    assert.equal(notModified.status, 304)
    const identityEtag = (await request('/assets/app.js')).headers.etag!
    const changed = await request('/assets/app.js', {
      'Accept-Encoding': 'br',
      'If-None-Match': identityEtag,
    })
    assert.equal(changed.status, 200)
  })

  it('does not look for siblings when precompressed is off', async () => {
    const res = await request('/cached/app.js', { 'Accept-Encoding': 'br' })
    assert.equal(res.headers['content-encoding'], undefined)
    assert.equal(res.headers.vary, undefined)
    assert.equal(res.body.toString(), JS)
  })
})

describe('static files: path traversal is impossible', () => {
  const attempts = [
    '/assets/../secret.txt',
    '/assets/../../../../../../etc/passwd',
    '/assets/%2e%2e/secret.txt',
    '/assets/%2E%2E/secret.txt',
    '/assets/..%2fsecret.txt',
    '/assets/..%2Fsecret.txt',
    '/assets/%2e%2e%2fsecret.txt',
    '/assets/.%2e/secret.txt',
    '/assets/sub/..%2f..%2fsecret.txt',
    '/assets/%252e%252e/secret.txt',
    '/assets/%252e%252e%252fsecret.txt',
    '/assets/..\\secret.txt',
    '/assets/..%5csecret.txt',
    '/assets/%5c..%5csecret.txt',
    '/assets/%2e%2e%5csecret.txt',
    '/assets/hello.txt%00',
    '/assets/hello.txt%00.html',
    '/assets/%00/../secret.txt',
    '/assets/%c0%ae%c0%ae/secret.txt',
    '/assets/link-out.txt',
    '/assets/dir-out/secret.txt',
    '/assets/dir-out/public-secret.txt',
    '/assets/dir-out/',
    '/assets/.env',
    '/assets/%2eenv',
    '/assets/.git/config',
    '/assets/sub/../.env',
    'http://test/assets/../secret.txt',
  ]
  for (const target of attempts) {
    it(`refuses ${target}`, async () => {
      const res = await request(target)
      assert.ok(res.status === 404 || res.status === 400, `${target}: ${res.status}`)
      assert.ok(!res.body.toString('latin1').includes(SECRET), 'the secret never leaves')
      assert.ok(!res.body.toString('latin1').includes('DOTENV'), 'dot-files never leave')
    })
  }

  it('answers malformed encodings 400 and refusals 404', async () => {
    assert.equal((await request('/assets/%c0%ae%c0%ae/secret.txt')).status, 400)
    assert.equal((await request('/assets/%zz')).status, 400)
    assert.equal((await request('/assets/../secret.txt')).status, 404)
    assert.equal((await request('/assets/link-out.txt')).status, 404)
  })

  it('refuses a precompressed sibling or an index file that is a symlink out of the root', async () => {
    const sibling = await request('/assets/leaky.js', { 'Accept-Encoding': 'br' })
    assert.equal(sibling.status, 200)
    assert.equal(sibling.headers['content-encoding'], undefined)
    assert.equal(sibling.body.toString(), JS)
    const index = await request('/assets/leaky-dir/')
    assert.equal(index.status, 404)
    assert.ok(!index.body.toString().includes(SECRET))
  })

  it('follows symlinks that stay inside the root', async () => {
    assert.equal((await request('/assets/alias.txt')).body.toString(), 'hello\n')
    assert.equal((await request('/assets/sub-alias/page.html')).body.toString(), 'page')
  })

  it('serves dot-files only where dotfiles: allow, and never `..` there either', async () => {
    const res = await request('/dot/.env')
    assert.equal(res.status, 200)
    assert.equal(res.body.toString(), 'DOTENV=1')
    for (const target of ['/dot/../secret.txt', '/dot/%2e%2e/secret.txt']) {
      const r = await request(target)
      assert.equal(r.status, 404, target)
    }
    // The router resolves dot segments before matching (RFC 3986 §5.2.4, as nginx
    // does): `/dot/./hello.txt` is `/dot/hello.txt`, inside the root, and served.
    const dot = await request('/dot/./hello.txt')
    assert.equal(dot.status, 200)
  })

  it('leaks no file descriptors across refusals and HEAD requests', async () => {
    // Settle: let earlier connections' handles go.
    await new Promise((r) => setTimeout(r, 50))
    const before = readdirSync('/proc/self/fd').length
    for (let i = 0; i < 20; i++) {
      await request('/assets/link-out.txt')
      await request('/assets/digits.txt', {}, 'HEAD')
      await request('/assets/digits.txt', { Range: 'bytes=0-1,5-6' }, 'HEAD')
      await request('/assets/hello.txt', { 'If-None-Match': '*' })
      await request('/assets/app.js', { 'Accept-Encoding': 'br' })
    }
    await new Promise((r) => setTimeout(r, 50))
    assert.ok(readdirSync('/proc/self/fd').length <= before + 2, 'no descriptor leaked')
  })
})

describe('static files: a large file', () => {
  const SIZE = 200 * 1024 * 1024
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void

  /** liveBuffers is the Buffer memory still referenced after a full GC. */
  function liveBuffers(): number {
    gc()
    return process.memoryUsage().arrayBuffers
  }

  it('streams 200 MB with flat memory, and stops reading for a client that does not read', async (t) => {
    const big = join(pub, 'big.bin')
    writeFileSync(big, '')
    truncateSync(big, SIZE) // sparse: no disk space used
    t.after(() => rmSync(big, { force: true }))
    // The session shows how many bytes the gateway has written; what the client has not
    // received yet is all the gateway can be holding (socket queues and kernel buffers).
    let session: Session | undefined
    const server = await startGateway(
      { routes: [{ match: { path: '/assets' }, static: { root: pub } }] },
      { t, hooks: { onRequestHead: (s) => void (session = s) } },
    )
    const c = await RawClient.connect(server.port, t)
    const baseline = liveBuffers()
    let headBytes = 0
    let received = 0
    let pause: { ahead: number; buffers: number } | undefined
    const done = new Promise<void>((resolve, reject) => {
      c.socket.removeAllListeners('data')
      c.socket.on('data', (d: Buffer) => {
        if (headBytes === 0) {
          headBytes = d.indexOf('\r\n\r\n') + 4
          assert.match(d.toString('latin1', 0, headBytes), /Content-Length: 209715200/)
          received += d.length - headBytes
        } else received += d.length
        if (pause === undefined && received > SIZE / 2) {
          pause = { ahead: 0, buffers: 0 }
          c.socket.pause()
          setTimeout(() => {
            // Without backpressure the gateway would by now have sent or buffered the other 100 MB.
            pause = { ahead: session!.bytesOut - headBytes - received, buffers: liveBuffers() - baseline }
            c.socket.resume()
          }, 500)
        }
        if (received === SIZE) resolve()
      })
      c.socket.on('close', () => reject(new Error(`closed after ${received} bytes`)))
    })
    c.write('GET /assets/big.bin HTTP/1.1\r\nHost: t\r\n\r\n')
    await done
    assert.equal(received, SIZE)
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`
    // Bytes written but not received sit in kernel socket buffers (tens of MB on loopback
    // with autotuning); without backpressure the whole remaining half would have been written.
    assert.ok(pause!.ahead < SIZE / 2, `sent ${mb(pause!.ahead)} to a client that did not read`)
    assert.ok(pause!.buffers < 16 * 1024 * 1024, `held ${mb(pause!.buffers)} for a paused client`)
    // ArrayBuffer memory is returned by a background sweeper after gc(): allow it a moment.
    let left = liveBuffers() - baseline
    for (let i = 0; i < 20 && left >= 16 * 1024 * 1024; i++) {
      await new Promise((r) => setTimeout(r, 50))
      left = liveBuffers() - baseline
    }
    assert.ok(left < 16 * 1024 * 1024, `nothing is left held after the response (${mb(left)})`)
  })
})

/** parseMultipart splits a multipart/byteranges body into parts (headers lower-cased). */
function parseMultipart(body: Buffer, boundary: string) {
  const text = body.toString('latin1')
  const sections = text.split(`--${boundary}`)
  assert.equal(sections.at(-1), '--\r\n', 'closed by the final delimiter')
  return sections.slice(1, -1).map((section) => {
    // Each section: CRLF, fields, CRLF CRLF, bytes, CRLF (before the next delimiter).
    assert.ok(section.startsWith('\r\n'))
    const end = section.indexOf('\r\n\r\n')
    const headers: Record<string, string> = {}
    for (const line of section.slice(2, end).split('\r\n')) {
      const i = line.indexOf(':')
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
    }
    assert.ok(section.endsWith('\r\n'))
    return { headers, body: section.slice(end + 4, -2) }
  })
}
