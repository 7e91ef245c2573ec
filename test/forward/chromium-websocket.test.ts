/**
 * Headless Chromium (Debian's `chromium`, driven by playwright-core) opens a
 * WebSocket from an intercepted HTTPS page; an onWebSocketMessage hook
 * rewrites the origin's echo and the page sees the rewritten text. Chromium
 * always offers permessage-deflate: the offer reaches the origin and is
 * agreed (the relay inflates for the hook and deflates again). Skipped when
 * chromium or certutil is missing (.ci/run installs them).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { WebSocketMessage } from '../../src/core/hooks.ts'
import { chromiumSkip, launchThroughProxy, trustingHome } from '../helpers/chromium.ts'
import { pageOrigin } from '../helpers/websocket.ts'
import { startForward } from '../helpers/forward.ts'
import { mitmFixture } from '../helpers/https-origin.ts'

const PAGE = `<!doctype html><title>ws page</title>
<script>
  const ws = new WebSocket('wss://' + location.host + '/ws')
  ws.onopen = () => ws.send('hello from the page')
  ws.onmessage = (m) => { document.title = 'ws:' + m.data }
</script>`

test(
  'chromium: a hook rewrites a WebSocket message through interception',
  { skip: await chromiumSkip() },
  async (t) => {
    const { dir, caDir, caPemPath, cert } = await mitmFixture(t)
    const home = await trustingHome(dir, caPemPath)

    const offers: (string | undefined)[] = []
    const port = await pageOrigin(
      t,
      cert,
      PAGE,
      (ws, req) => {
        offers.push(req.headers['sec-websocket-extensions'])
        ws.on('message', (m) => ws.send(`origin got: ${m.toString()}`))
      },
      { perMessageDeflate: true },
    )

    const seen: WebSocketMessage[] = []
    const fwd = await startForward(
      { allow: ['127.0.0.1'], mitm: { caDir, hosts: ['localhost'], upstreamCa: cert.certPath } },
      {
        t,
        hooks: {
          onWebSocketMessage: (session, m) => {
            seen.push(m)
            if (session.source === 'mitm' && m.direction === 'server' && m.type === 'text')
              return m.data.replace('origin got', 'rewritten by portcullis')
          },
        },
      },
    )
    const browser = await launchThroughProxy(t, fwd.proxy, home)
    const page = await browser.newPage()
    const res = await page.goto(`https://localhost:${port}/`, { timeout: 10_000 })
    assert.equal(res?.status(), 200)
    await page.waitForFunction("document.title.startsWith('ws:')", undefined, { timeout: 5000 })
    assert.equal(await page.title(), 'ws:rewritten by portcullis: hello from the page')
    assert.deepEqual(
      seen.map((m) => [m.direction, m.type, m.data]),
      [
        ['client', 'text', 'hello from the page'],
        ['server', 'text', 'origin got: hello from the page'],
      ],
    )
    assert.equal(offers.length, 1)
    assert.match(offers[0] ?? '', /^permessage-deflate/, 'the permessage-deflate offer reached the origin')
  },
)
