/**
 * A WebSocket interceptor (docs/architecture.md, "WebSocket messages"): what
 * mitmproxy's `websocket_message` hook does, in TypeScript. A forward proxy
 * that intercepts TLS, drops the `telemetry` messages a page sends and
 * redacts a `token` field in what the server sends back. Run it:
 *
 *   npx portcullis ca init --dir ./ca       # then trust ca/ca.pem (`npx portcullis ca show` says how)
 *   node examples/websocket-messages.ts     # Node 24 runs TypeScript as is
 *   chromium --proxy-server=http://127.0.0.1:3128 https://your-app.example/
 *
 * With the hook, Portcullis reads every frame: permessage-deflate stays
 * agreed (messages are inflated for the hook and deflated again), and a
 * message over `limits.maxWebSocketMessage` closes the connection with 1009.
 */
import type { GatewayConfigInput } from '../src/config/schema.ts'
import { DROP_MESSAGE, type GatewayHooks } from '../src/core/hooks.ts'
import { createGateway } from '../src/server/gateway.ts'

export const config: GatewayConfigInput = {
  listen: [],
  forward: {
    address: '127.0.0.1:3128',
    mitm: { caDir: './ca', hosts: ['*'] },
  },
  // The largest message the hook is handed (all fragments); the default is 1mb.
  limits: { maxWebSocketMessage: '4mb' },
}

export const hooks: GatewayHooks = {
  onWebSocketMessage(session, message) {
    // Binary messages, and text that is not a JSON object, pass untouched.
    if (message.type !== 'text') return undefined
    const json = jsonObject(message.data)
    if (json === undefined) return undefined
    if (message.direction === 'client' && json.type === 'telemetry') return DROP_MESSAGE
    if (message.direction === 'server' && 'token' in json) {
      console.error(`${session.destination?.host ?? session.host}: token redacted`)
      return JSON.stringify({ ...json, token: '[redacted]' })
    }
    return undefined
  },
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    return undefined
  }
}

if (import.meta.main) {
  const gw = await createGateway(config, { hooks })
  await gw.listen()
  process.stderr.write('forward proxy with WebSocket interception on http://127.0.0.1:3128\n')
  process.once('SIGINT', () => void gw.close())
}
