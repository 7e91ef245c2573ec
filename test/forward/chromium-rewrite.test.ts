/**
 * Headless Chromium through the intercepting forward proxy, to an HTTPS
 * origin that answers gzip (the page, with a Content-Length) and br (its
 * script, chunked): an onResponse hook rewrites the decoded bodies with
 * rewriteBody, and Chromium renders the rewritten page and runs the
 * rewritten script, sent unencoded (the default) or in the origin's coding
 * again (`reencode`).
 * A body whose framing or coding did not match its bytes would be a network
 * error in Chromium (ERR_CONTENT_DECODING_FAILED,
 * ERR_CONTENT_LENGTH_MISMATCH): every request must finish. The CA is trusted
 * in a throwaway NSS profile, never `ignoreHTTPSErrors`. Skipped when
 * chromium or certutil is missing.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import { rewriteBody } from '../../src/forward/whole-body.ts'
import { chromiumSkip, launchThroughProxy, trustingHome } from '../helpers/chromium.ts'
import { startForward, waitFor } from '../helpers/forward.ts'
import { mitmFixture } from '../helpers/https-origin.ts'

const skip = await chromiumSkip()

/** The page; its script's URL carries the page's query, so a `?reencode` page gets a re-encoded script too. */
const page = (search: string) => `<!doctype html><title>the origin page</title>
<p id="p">served by the origin</p><p id="s">no script ran</p>
<script src="/app.js${search}"></script>`

const SCRIPT = `document.getElementById('s').textContent = 'script from the origin'`

test(
  'chromium renders a gzip page and runs a br script rewritten by an interceptor: sent unencoded, and encoded again with reencode',
  { skip },
  async (t) => {
    // The page: gzip with a validator and a length. The script: br when accepted (Chromium does over
    // HTTPS), chunked in two writes, no length.
    const served: { url: string; acceptEncoding: string | undefined; coding: string }[] = []
    const { dir, caDir, caPemPath, cert, port } = await mitmFixture(t, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://x')
      const accept = req.headers['accept-encoding']
      if (url.pathname === '/favicon.ico') return void res.writeHead(404).end()
      const script = url.pathname === '/app.js'
      const coding = script && /\bbr\b/.test(accept ?? '') ? 'br' : 'gzip'
      served.push({ url: url.pathname + url.search, acceptEncoding: accept, coding })
      const plain = script ? SCRIPT : page(url.search)
      const body = coding === 'br' ? brotliCompressSync(plain) : gzipSync(plain)
      res.writeHead(200, {
        'content-type': script ? 'text/javascript' : 'text/html',
        'content-encoding': coding,
        ...(!script && { 'content-length': body.length }),
        etag: '"v1"',
        'cache-control': 'no-store',
      })
      if (!script) return void res.end(body)
      res.write(body.subarray(0, 5))
      setTimeout(() => res.end(body.subarray(5)), 20)
    })
    const home = await trustingHome(dir, caPemPath)

    const rewritten: string[] = []
    const fwd = await startForward(
      { allow: ['127.0.0.1'], mitm: { caDir, hosts: ['localhost'], upstreamCa: cert.certPath } },
      {
        t,
        hooks: {
          onResponse: (session, res) => {
            if (session.source !== 'mitm' || res.status !== 200) return
            const reencode = session.head.target.includes('reencode')
            const ok = rewriteBody(
              res,
              (body) => {
                rewritten.push(session.head.target)
                // Longer than the original: a stale Content-Length would cut it.
                return body.toString().replaceAll('the origin', 'the Portcullis interceptor, not the origin')
              },
              { reencode },
            )
            assert.ok(ok, 'gzip is a coding rewriteBody decodes')
          },
        },
      },
    )
    const browser = await launchThroughProxy(t, fwd.proxy, home)
    const tab = await browser.newPage()
    const failed: string[] = []
    tab.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`))
    const scripts: { url: string; status: number; encoding: string | undefined; body: string }[] = []
    tab.on('response', (r) => {
      if (!r.url().includes('/app.js')) return
      void r
        .text()
        .then((body) =>
          scripts.push({ url: r.url(), status: r.status(), encoding: r.headers()['content-encoding'], body }),
        )
    })

    for (const [path, encoding] of [
      ['/', undefined],
      ['/?reencode', 'gzip'],
    ] as const) {
      const res = await tab.goto(`https://localhost:${port}${path}`, { timeout: 15_000 })
      assert.equal(res?.status(), 200, path)
      const headers = res!.headers()
      assert.equal(headers['content-encoding'], encoding, path)
      assert.equal(headers['etag'], undefined, `${path}: the old validator is dropped`)
      // What Chromium decoded is the rewritten page, whole.
      assert.equal(
        await res!.text(),
        page(path.slice(1)).replaceAll('the origin', 'the Portcullis interceptor, not the origin'),
      )
      // And what it rendered, from the page's own document.
      assert.equal(await tab.title(), 'the Portcullis interceptor, not the origin page')
      assert.equal(await tab.textContent('#p'), 'served by the Portcullis interceptor, not the origin')
      // The rewritten script ran: it was fetched, decoded and executed without an error.
      await tab.waitForFunction("document.getElementById('s').textContent !== 'no script ran'", undefined, {
        timeout: 10_000,
      })
      assert.equal(await tab.textContent('#s'), 'script from the Portcullis interceptor, not the origin')
      const text = (await tab.evaluate('document.body.innerText')) as string
      assert.doesNotMatch(text, /served by the origin|script from the origin/, path)
    }
    assert.deepEqual(failed, [], 'no request failed (a decoding or length error would)')
    // The origin answered the pages gzip and the scripts br; all four went through the hook.
    assert.deepEqual(
      served.map((s) => [s.url, s.coding]),
      [
        ['/', 'gzip'],
        ['/app.js', 'br'],
        ['/?reencode', 'gzip'],
        ['/app.js?reencode', 'br'],
      ],
    )
    assert.deepEqual(rewritten, ['/', '/app.js', '/?reencode', '/app.js?reencode'])
    // The scripts as Chromium received them: unencoded, then br again; decoded, both the rewritten script.
    assert.ok(await waitFor(() => scripts.length === 2), `${scripts.length} script responses`)
    const script = SCRIPT.replace('the origin', 'the Portcullis interceptor, not the origin')
    assert.deepEqual(
      scripts.map((s) => [s.status, s.encoding, s.body]),
      [
        [200, undefined, script],
        [200, 'br', script],
      ],
    )
  },
)
