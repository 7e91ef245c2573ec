/**
 * examples/har-capture.ts does what its comments promise: its config
 * (listener moved to port 0, the CA to a fresh one, 127.0.0.1 allowed) and
 * recorder, an intercepted POST and WebSocket to a local origin, and the
 * written file is HAR 1.2 with the request body, the response body and the
 * messages, the Authorization value redacted.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { RawData } from 'ws'
import { config, recorder } from '../../examples/har-capture.ts'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { curl, startForward, waitFor } from '../helpers/forward.ts'
import { assertHar12 } from '../helpers/har.ts'
import { mitmFixture } from '../helpers/https-origin.ts'
import { pageOrigin, wsThroughMitm } from '../helpers/websocket.ts'

test(
  'examples/har-capture.ts: an intercepted POST and WebSocket in the written HAR',
  { skip: !(await hasOpenssl()) && 'needs openssl' },
  async (t) => {
    const { dir, caDir, caPemPath: caPem, cert } = await mitmFixture(t)
    const port = await pageOrigin(t, cert, '<p>page</p>', (ws) =>
      ws.on('message', (m: RawData) => ws.send(`got ${String(m)}`)),
    )
    const har = recorder()
    const fwd = await startForward(
      {
        ...config.forward,
        address: '127.0.0.1:0',
        allow: ['127.0.0.1'],
        mitm: { ...config.forward!.mitm!, caDir, upstreamCa: cert.certPath },
      },
      { t, hooks: [har.hooks] },
    )
    const r = await curl([
      '--cacert',
      caPem,
      '-x',
      fwd.proxy,
      '-H',
      'Authorization: Bearer s3cret',
      '-d',
      'q=1&r=two',
      `https://localhost:${port}/search`,
    ])
    assert.equal(r.code, 0, r.stderr)
    const ws = await wsThroughMitm(t, fwd.port, new URL(`wss://localhost:${port}/live`), caPem)
    const reply = once(ws, 'message')
    ws.send('hi')
    await reply
    ws.close()
    const logged = () => (har.toJSON() as { log: { entries: { comment?: string }[] } }).log.entries
    assert.ok(await waitFor(() => logged().filter((e) => e.comment === undefined).length === 2, 5000))
    const path = join(dir, 'capture.har')
    await har.write(path)
    const text = await readFile(path, 'utf8')
    const [search, live] = assertHar12(JSON.parse(text))
    assert.deepEqual(search!.request.postData, {
      mimeType: 'application/x-www-form-urlencoded',
      params: [
        { name: 'q', value: '1' },
        { name: 'r', value: 'two' },
      ],
      text: 'q=1&r=two',
    })
    assert.equal(search!.response.content.text, '<p>page</p>')
    assert.equal(live!._resourceType, 'websocket')
    assert.deepEqual(
      live!._webSocketMessages!.map((m) => [m.type, m.data]),
      [
        ['send', 'hi'],
        ['receive', 'got hi'],
      ],
    )
    assert.doesNotMatch(text, /s3cret/)
  },
)
