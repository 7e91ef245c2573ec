/**
 * Headless Chromium (Debian's `chromium`, driven by playwright-core) through
 * the forward proxy: the local CA trusted in a throwaway NSS database (never
 * `ignoreHTTPSErrors`), an HTTPS page intercepted and rewritten by a hook,
 * a WebSocket round trip from the page, and the SSRF defaults refusing a
 * loopback destination. Skipped when chromium or certutil is missing
 * (.ci/run installs them).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Session } from '../../src/core/session.ts'
import { chromiumSkip, launchThroughProxy, trustingHome } from '../helpers/chromium.ts'
import { pageOrigin } from '../helpers/websocket.ts'
import { startForward, waitFor } from '../helpers/forward.ts'
import { mitmFixture } from '../helpers/https-origin.ts'

const skip = await chromiumSkip()

const PAGE = `<!doctype html><title>origin page</title><p id="p">from the origin</p>
<script>
  const ws = new WebSocket('wss://' + location.host + '/ws')
  ws.onopen = () => ws.send('ping')
  ws.onmessage = (m) => { document.title = 'ws:' + m.data }
</script>`

test(
  'chromium loads an intercepted HTTPS page, its WebSocket works, loopback is refused',
  { skip },
  async (t) => {
    const { dir, caDir, caPemPath, cert } = await mitmFixture(t)
    const home = await trustingHome(dir, caPemPath)

    const port = await pageOrigin(t, cert, PAGE, (ws) =>
      ws.on('message', (m) => ws.send(`pong after ${m.toString()}`)),
    )

    const logged: Session[] = []
    const fwd = await startForward(
      { allow: ['127.0.0.1'], mitm: { caDir, hosts: ['localhost'], upstreamCa: cert.certPath } },
      {
        t,
        hooks: {
          onResponse: (session, res) => {
            if (session.source === 'mitm') res.headers.set('x-intercepted', 'yes')
          },
          onLog: (session) => void logged.push(session),
        },
      },
    )
    const browser = await launchThroughProxy(t, fwd.proxy, home)
    const page = await browser.newPage()
    const res = await page.goto(`https://localhost:${port}/`, { timeout: 10_000 })
    assert.equal(res?.status(), 200)
    assert.equal(res?.headers()['x-intercepted'], 'yes')
    assert.equal(await page.textContent('#p'), 'from the origin')
    await page.waitForFunction("document.title.startsWith('ws:')", undefined, { timeout: 5000 })
    assert.equal(await page.title(), 'ws:pong after ping')
    // Loopback by another address than the allowed one: the proxy refuses it.
    const refused = await page.goto(`http://[::1]:${port}/`, { timeout: 10_000 })
    assert.equal(refused?.status(), 403)
    assert.match((await refused?.text()) ?? '', /DESTINATION_FORBIDDEN/)
    assert.ok(await waitFor(() => logged.some((s) => s.source === 'mitm' && s.status === 101)))
  },
)
