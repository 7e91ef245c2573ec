/**
 * Headless Chromium (Debian's `chromium`, driven by playwright-core) through
 * the intercepting forward proxy with a HarRecorder: the page POSTs a form
 * and a binary body and talks over a WebSocket. Chromium's own view, from
 * its DevTools protocol (what its devtools export as HAR), is the reference:
 * the written HAR is HAR 1.2, and its postData and `_webSocketMessages`
 * (types, opcodes, data, order) match what Chromium says it sent and got.
 * Skipped when chromium or certutil is missing (.ci/run installs them).
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { RawData } from 'ws'
import { HarRecorder } from '../../src/forward/har.ts'
import { chromiumSkip, launchThroughProxy, trustingHome } from '../helpers/chromium.ts'
import { startForward, waitFor } from '../helpers/forward.ts'
import { assertHar12 } from '../helpers/har.ts'
import { mitmFixture } from '../helpers/https-origin.ts'
import { pageOrigin } from '../helpers/websocket.ts'

const PAGE = `<!doctype html><meta charset="utf-8"><title>har page</title>
<script>
  (async () => {
    await fetch('/form', { method: 'POST', body: new URLSearchParams({ name: 'Zoë', n: '2' }) })
    await fetch('/bytes', { method: 'POST', body: new Uint8Array([0, 1, 2, 255]), headers: { 'content-type': 'application/octet-stream' } })
    const ws = new WebSocket('wss://' + location.host + '/ws')
    ws.binaryType = 'arraybuffer'
    let got = 0
    ws.onopen = () => ws.send('hello')
    ws.onmessage = () => {
      got++
      if (got === 1) ws.send(new Uint8Array([9, 8, 7]))
      else { ws.close(); document.title = 'done' }
    }
  })()
</script>`

test(
  'chromium: the HAR of an intercepted page matches what Chromium saw',
  { skip: await chromiumSkip() },
  async (t) => {
    const { dir, caDir, caPemPath, cert } = await mitmFixture(t)
    const home = await trustingHome(dir, caPemPath)
    const port = await pageOrigin(t, cert, PAGE, (ws) =>
      ws.on('message', (m: RawData, binary: boolean) =>
        ws.send(binary ? Buffer.from(m as Buffer).reverse() : `echo ${m}`),
      ),
    )
    const har = new HarRecorder()
    const fwd = await startForward(
      { allow: ['127.0.0.1'], mitm: { caDir, hosts: ['localhost'], upstreamCa: cert.certPath } },
      { t, hooks: har.hooks },
    )
    const browser = await launchThroughProxy(t, fwd.proxy, home)
    const page = await browser.newPage()
    // Chromium's own record, as its devtools get it.
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('Network.enable')
    const frames: [string, number, string][] = []
    cdp.on('Network.webSocketFrameSent', (e) =>
      frames.push(['send', e.response.opcode, e.response.payloadData]),
    )
    cdp.on('Network.webSocketFrameReceived', (e) =>
      frames.push(['receive', e.response.opcode, e.response.payloadData]),
    )
    const posted = new Map<string, string | undefined>()
    cdp.on('Network.requestWillBeSent', (e) => {
      if (e.request.method === 'POST') posted.set(new URL(e.request.url).pathname, e.request.postData)
    })

    await page.goto(`https://localhost:${port}/`, { timeout: 10_000 })
    await page.waitForFunction("document.title === 'done'", undefined, { timeout: 10_000 })
    const logged = () => (har.toJSON() as { log: { entries: { comment?: string }[] } }).log.entries
    // The page, two POSTs and the WebSocket, once it closed (a favicon request may come too).
    assert.ok(await waitFor(() => logged().filter((e) => e.comment === undefined).length >= 4, 5000))
    const path = join(dir, 'capture.har')
    await har.write(path)
    const entries = assertHar12(JSON.parse(await readFile(path, 'utf8')))
    const byPath = (p: string) => entries.find((e) => new URL(e.request.url).pathname === p)!

    const form = byPath('/form').request.postData!
    assert.equal(form.text, posted.get('/form'), 'the form body as Chromium sent it')
    assert.match(form.mimeType, /^application\/x-www-form-urlencoded/)
    assert.deepEqual(form.params, [
      { name: 'name', value: 'Zoë' },
      { name: 'n', value: '2' },
    ])
    const bytes = byPath('/bytes').request.postData!
    assert.deepEqual(Buffer.from(bytes.text, 'base64'), Buffer.from([0, 1, 2, 255]))
    assert.equal(bytes._encoding, 'base64')

    const ws = byPath('/ws')
    assert.equal(ws._resourceType, 'websocket')
    assert.equal(ws.request.url, `wss://localhost:${port}/ws`)
    // Chromium's binary payloadData is base64, as in its HAR; its frames include no close (opcode 8) here.
    const data = frames.filter(([, opcode]) => opcode === 1 || opcode === 2)
    assert.deepEqual(data, [
      ['send', 1, 'hello'],
      ['receive', 1, 'echo hello'],
      ['send', 2, Buffer.from([9, 8, 7]).toString('base64')],
      ['receive', 2, Buffer.from([7, 8, 9]).toString('base64')],
    ])
    assert.deepEqual(
      ws._webSocketMessages!.map((m) => [m.type, m.opcode, m.data]),
      data,
      'the messages as Chromium saw them, in order',
    )
  },
)
