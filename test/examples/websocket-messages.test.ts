/**
 * examples/websocket-messages.ts does what its comments promise: its config
 * (listener moved to port 0, the CA to a fresh one, 127.0.0.1 allowed) and
 * hooks, an intercepted WebSocket to a local origin: a `telemetry` message
 * from the page is dropped, a `token` from the server redacted, anything
 * else passes untouched; permessage-deflate stays agreed.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RawData } from 'ws'
import { config, hooks } from '../../examples/websocket-messages.ts'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { startForward, waitFor } from '../helpers/forward.ts'
import { mitmFixture } from '../helpers/https-origin.ts'
import { pageOrigin, wsThroughMitm } from '../helpers/websocket.ts'

test(
  'examples/websocket-messages.ts: telemetry dropped, token redacted',
  { skip: !(await hasOpenssl()) && 'needs openssl' },
  async (t) => {
    const { caDir, caPemPath, cert } = await mitmFixture(t)
    const received: string[] = []
    const port = await pageOrigin(
      t,
      cert,
      '',
      (ws) =>
        ws.on('message', (m: RawData) => {
          received.push(String(m))
          ws.send(JSON.stringify({ reply: String(m), token: 'abc123' }))
        }),
      { perMessageDeflate: true },
    )
    const fwd = await startForward(
      {
        ...config.forward,
        address: '127.0.0.1:0',
        allow: ['127.0.0.1'],
        mitm: { ...config.forward!.mitm!, caDir, upstreamCa: cert.certPath },
      },
      { t, hooks, extra: { limits: config.limits } },
    )
    const ws = await wsThroughMitm(t, fwd.port, new URL(`wss://localhost:${port}/app`), caPemPath, {
      perMessageDeflate: true,
    })
    assert.equal(ws.extensions, 'permessage-deflate')
    const replies: string[] = []
    ws.on('message', (m: RawData) => replies.push(String(m)))
    ws.send(JSON.stringify({ type: 'telemetry', clicks: 3 }))
    ws.send('plain text')
    assert.ok(await waitFor(() => replies.length === 1))
    assert.deepEqual(received, ['plain text'], 'the telemetry message never reached the origin')
    assert.deepEqual(JSON.parse(replies[0]!), { reply: 'plain text', token: '[redacted]' })
  },
)
