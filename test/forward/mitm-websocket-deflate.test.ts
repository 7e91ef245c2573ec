/**
 * permessage-deflate (RFC 7692) on a WebSocket inside an intercepted CONNECT:
 * a `ws` client through the forward proxy (trusting the local CA), an HTTPS
 * `ws` origin compressing every message, and a hook that rewrites, drops and
 * leaves messages as they are. With context takeover and without; without
 * it, the `ws` client compresses only messages of 1 KiB or more (its default
 * threshold), so compressed and plain messages mix in one direction, each
 * sent on as it came (compressed or not).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { PerMessageDeflateOptions } from 'ws'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { startForward } from '../helpers/forward.ts'
import { mitmFixture } from '../helpers/https-origin.ts'
import { wsThroughMitm } from '../helpers/websocket.ts'
import {
  clientExpects,
  conversation,
  dataFrames,
  echoOrigin,
  originExpects,
  rewriting,
  talk,
} from '../helpers/websocket-deflate.ts'

const skip = !(await hasOpenssl()) && 'needs openssl'

const cases: [string, PerMessageDeflateOptions][] = [
  ['context takeover', {}],
  ['no context takeover', { serverNoContextTakeover: true, clientNoContextTakeover: true }],
]

for (const [name, deflate] of cases) {
  test(`permessage-deflate through TLS interception with a rewriting hook: ${name}`, { skip }, async (t) => {
    const { caDir, caPemPath, cert } = await mitmFixture(t)
    const origin = await echoOrigin(t, deflate, cert)
    const fwd = await startForward(
      { allow: ['127.0.0.1'], mitm: { caDir, hosts: ['localhost'], upstreamCa: cert.certPath } },
      { t, hooks: rewriting },
    )
    const url = new URL(`wss://localhost:${origin.port}/chat`)
    const ws = await wsThroughMitm(t, fwd.port, url, caPemPath, { perMessageDeflate: true })
    assert.equal(ws.extensions, 'permessage-deflate', 'the origin’s agreement reached the client')
    assert.match(origin.offers[0] ?? '', /^permessage-deflate/)
    for (let round = 0; round < 2; round++) {
      assert.deepEqual(await talk(ws, conversation, clientExpects.length), clientExpects)
    }
    assert.deepEqual(origin.messages, [...originExpects, ...originExpects])
    // What reached the origin is compressed exactly when the client compressed it.
    const threshold = deflate.clientNoContextTakeover ? 1024 : 0
    assert.deepEqual(
      dataFrames(origin.read).map((f) => f.rsv1),
      [...originExpects, ...originExpects].map((m) => m.length >= threshold),
    )
  })
}
