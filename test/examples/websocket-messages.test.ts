/**
 * examples/websocket-messages.ts does what its comments promise: its config
 * (listener moved to port 0, the CA to a fresh one, 127.0.0.1 allowed) and
 * hooks, an intercepted WebSocket to a local origin: a `telemetry` message
 * from the page is dropped, a `token` from the server redacted, anything
 * else passes untouched.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import https from 'node:https'
import type net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { type RawData, WebSocketServer } from 'ws'
import { config, hooks } from '../../examples/websocket-messages.ts'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { hasOpenssl, makeSelfSigned } from '../fixtures/self-signed.ts'
import { startForward, waitFor } from '../helpers/forward.ts'
import { wsThroughMitm } from '../helpers/websocket.ts'

test(
  'examples/websocket-messages.ts: telemetry dropped, token redacted',
  { skip: !(await hasOpenssl()) && 'needs openssl' },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-example-ws-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const caDir = join(dir, 'ca')
    await createCa(caDir)
    const cert = await makeSelfSigned(dir)
    const origin = https.createServer({ cert: cert.cert, key: cert.key })
    const wss = new WebSocketServer({ server: origin })
    const received: string[] = []
    wss.on('connection', (ws) =>
      ws.on('message', (m: RawData) => {
        received.push(String(m))
        ws.send(JSON.stringify({ reply: String(m), token: 'abc123' }))
      }),
    )
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
    t.after(
      () =>
        new Promise<void>((r) => {
          for (const c of wss.clients) c.terminate()
          origin.closeAllConnections()
          origin.close(() => r())
        }),
    )
    const port = (origin.address() as net.AddressInfo).port
    const fwd = await startForward(
      {
        ...config.forward,
        address: '127.0.0.1:0',
        allow: ['127.0.0.1'],
        mitm: { ...config.forward!.mitm!, caDir, upstreamCa: cert.certPath },
      },
      { t, hooks, extra: { limits: config.limits } },
    )
    const ws = await wsThroughMitm(t, fwd.port, new URL(`wss://localhost:${port}/app`), join(caDir, 'ca.pem'))
    const replies: string[] = []
    ws.on('message', (m: RawData) => replies.push(String(m)))
    ws.send(JSON.stringify({ type: 'telemetry', clicks: 3 }))
    ws.send('plain text')
    assert.ok(await waitFor(() => replies.length === 1))
    assert.deepEqual(received, ['plain text'], 'the telemetry message never reached the origin')
    assert.deepEqual(JSON.parse(replies[0]!), { reply: 'plain text', token: '[redacted]' })
  },
)
