/**
 * Headless Chromium through the intercepting forward proxy, to an HTTPS
 * origin that answers gzip: an onResponse hook rewrites the decoded body
 * with rewriteBody, and Chromium renders the rewritten page and runs a
 * rewritten script, sent unencoded (the default) or gzip again (`reencode`).
 * A body whose framing or coding did not match its bytes would be a network
 * error in Chromium (ERR_CONTENT_DECODING_FAILED,
 * ERR_CONTENT_LENGTH_MISMATCH): every request must finish. The CA is trusted
 * in a throwaway NSS profile, never `ignoreHTTPSErrors`. Skipped when
 * chromium or certutil is missing.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import https from 'node:https'
import type net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { rewriteBody } from '../../src/forward/whole-body.ts'
import { makeSelfSigned } from '../fixtures/self-signed.ts'
import { chromiumSkip, launchThroughProxy, trustingHome } from '../helpers/chromium.ts'
import { startForward, waitFor } from '../helpers/forward.ts'

const skip = await chromiumSkip()

const PAGE = `<!doctype html><title>the origin page</title>
<p id="p">served by the origin</p><p id="s">no script ran</p>
<script src="/app.js"></script>`

const SCRIPT = `document.getElementById('s').textContent = 'script from the origin'`

test(
  'chromium renders a gzip page rewritten by an interceptor: sent unencoded, and gzip again with reencode',
  { skip },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-chromium-rewrite-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const caDir = join(dir, 'ca')
    await createCa(caDir)
    const home = await trustingHome(dir, join(caDir, 'ca.pem'))
    const cert = await makeSelfSigned(dir)

    // The origin answers every request gzip (whatever the client accepts), with a validator and a length.
    const served: { url: string; acceptEncoding: string | undefined }[] = []
    const origin = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      served.push({ url: req.url ?? '', acceptEncoding: req.headers['accept-encoding'] })
      const path = new URL(req.url ?? '/', 'https://x').pathname
      if (path === '/favicon.ico') return void res.writeHead(404).end()
      const body = gzipSync(path === '/app.js' ? SCRIPT : PAGE)
      res.writeHead(200, {
        'content-type': path === '/app.js' ? 'text/javascript' : 'text/html',
        'content-encoding': 'gzip',
        'content-length': body.length,
        etag: '"v1"',
        'cache-control': 'no-store',
      })
      res.end(body)
    })
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
    t.after(() => new Promise<void>((r) => (origin.closeAllConnections(), origin.close(() => r()))))
    const port = (origin.address() as net.AddressInfo).port

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
    const page = await browser.newPage()
    const failed: string[] = []
    page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`))
    const scripts: { url: string; status: number; encoding: string | undefined; body: string }[] = []
    page.on('response', (r) => {
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
      const res = await page.goto(`https://localhost:${port}${path}`, { timeout: 15_000 })
      assert.equal(res?.status(), 200, path)
      const headers = res!.headers()
      assert.equal(headers['content-encoding'], encoding, path)
      assert.equal(headers['etag'], undefined, `${path}: the old validator is dropped`)
      // What Chromium decoded is the rewritten page, whole.
      assert.equal(
        await res!.text(),
        PAGE.replaceAll('the origin', 'the Portcullis interceptor, not the origin'),
      )
      // And what it rendered, from the page's own document.
      assert.equal(await page.title(), 'the Portcullis interceptor, not the origin page')
      assert.equal(await page.textContent('#p'), 'served by the Portcullis interceptor, not the origin')
      // The rewritten script ran: it was fetched, decoded and executed without an error.
      await page.waitForFunction("document.getElementById('s').textContent !== 'no script ran'", undefined, {
        timeout: 10_000,
      })
      assert.equal(await page.textContent('#s'), 'script from the Portcullis interceptor, not the origin')
      const text = (await page.evaluate('document.body.innerText')) as string
      assert.doesNotMatch(text, /served by the origin|script from the origin/, path)
    }
    assert.deepEqual(failed, [], 'no request failed (a decoding or length error would)')
    // The origin was asked with gzip accepted and answered gzip; both pages and both scripts went through the hook.
    assert.ok(
      served.filter((s) => s.url !== '/favicon.ico').every((s) => /gzip/.test(s.acceptEncoding ?? '')),
    )
    assert.deepEqual(
      rewritten.filter((u) => u !== '/favicon.ico'),
      ['/', '/app.js', '/?reencode', '/app.js'],
    )
    assert.ok(await waitFor(() => scripts.length === 2), `${scripts.length} script responses`)
    assert.deepEqual(
      scripts.map((s) => [s.status, s.body]),
      [
        [200, SCRIPT.replace('the origin', 'the Portcullis interceptor, not the origin')],
        [200, SCRIPT.replace('the origin', 'the Portcullis interceptor, not the origin')],
      ],
    )
  },
)
