/**
 * Traffic capture to a HAR file (docs/architecture.md, "HAR capture"): what
 * mitmproxy's `--set hardump=` or Chromium's "Save all as HAR" give, from a
 * forward proxy that intercepts TLS. Requests with their bodies, responses
 * with theirs (64 KiB each by default), and WebSocket messages, which
 * Chromium's devtools show when the file is imported (Network, "Import HAR").
 * Authorization, Proxy-Authorization, Cookie and Set-Cookie are redacted.
 * Run it:
 *
 *   npx portcullis ca init --dir ./ca       # then trust ca/ca.pem (`npx portcullis ca show` says how)
 *   node examples/har-capture.ts            # Node 24 runs TypeScript as is
 *   curl --cacert ca/ca.pem -x http://127.0.0.1:3128 -d 'q=1' https://example.com/
 *   # Ctrl-C writes capture.har
 *
 * The recorder's onWebSocketMessage hook makes the gateway read every frame
 * of every WebSocket; `webSocketMessages: false` keeps upgrades a byte pipe.
 */
import type { GatewayConfigInput } from '../src/config/schema.ts'
import { HarRecorder } from '../src/forward/har.ts'
import { createGateway } from '../src/server/gateway.ts'

export const config: GatewayConfigInput = {
  listen: [],
  forward: {
    address: '127.0.0.1:3128',
    mitm: { caDir: './ca', hosts: ['*'] },
  },
}

/** A recorder keeping the last 5,000 exchanges, bodies and messages up to 256 KiB each. */
export function recorder(): HarRecorder {
  return new HarRecorder({ maxEntries: 5000, maxBodySize: 256 * 1024, maxWebSocketMessages: 500 })
}

if (import.meta.main) {
  const har = recorder()
  // Last in the list: the HAR records what other hooks left, as it went on.
  const gw = await createGateway(config, { hooks: [har.hooks] })
  await gw.listen()
  process.stderr.write('capturing proxy on http://127.0.0.1:3128; Ctrl-C writes capture.har\n')
  process.once('SIGINT', async () => {
    await gw.close()
    await har.write('capture.har')
    process.stderr.write('capture.har written\n')
  })
}
