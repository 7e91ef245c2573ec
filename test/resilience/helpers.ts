/**
 * Helpers for the resilience tests: a gateway with one upstream `origin`
 * whose resilience keys are given, a request with a method and body, an
 * origin that resets each connection once it has read a request head
 * (a reset before any response byte), and a count of upstream tries.
 */
import diagnostics from 'node:diagnostics_channel'
import http from 'node:http'
import type { GatewayConfigInput } from '../../src/config/schema.ts'
import type { UpstreamTryMessage } from '../../src/observe/channels.ts'
import type { Upstream } from '../../src/upstream/upstream.ts'
import { type Cleanup, type GatewayHandle, startRawOrigin } from '../helpers/gateway.ts'

/** resilienceConfig: upstream `origin` over `urls` with `upstream` keys merged in, one catch-all route with `route` keys. */
export function resilienceConfig(
  urls: readonly string[],
  upstream: Record<string, unknown>,
  route: Record<string, unknown> = {},
): GatewayConfigInput {
  return {
    upstreams: { origin: { targets: urls.map((url) => ({ url })), ...upstream } },
    routes: [{ match: {}, upstream: 'origin', ...route }],
  } as GatewayConfigInput
}

/** upstreamOf reaches the running `origin` upstream (its limits and breakers) behind the Gateway interface. */
export function upstreamOf(gw: GatewayHandle): Upstream {
  const server = gw.gw as unknown as { runtime: { upstreams: ReadonlyMap<string, Upstream> } }
  return server.runtime.upstreams.get('origin')!
}

export interface Answer {
  status: number
  body: string
  headers: http.IncomingHttpHeaders
  /** The response broke after its head (the gateway closed the connection). */
  broken: boolean
}

/** send makes one request on a fresh connection; a response cut short resolves with `broken`. */
export function send(url: string, method = 'GET', body?: Buffer | string, path = '/'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url + path, { method, agent: false }, (res) => {
      let text = ''
      res.setEncoding('latin1')
      res.on('data', (d: string) => (text += d))
      res.on('end', () =>
        resolve({ status: res.statusCode!, body: text, headers: res.headers, broken: false }),
      )
      res.on('error', () =>
        resolve({ status: res.statusCode!, body: text, headers: res.headers, broken: true }),
      )
      res.on('aborted', () =>
        resolve({ status: res.statusCode!, body: text, headers: res.headers, broken: true }),
      )
    })
    req.setTimeout(15_000, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * startResettingOrigin accepts connections, and resets each as soon as a
 * request head arrived: the request was sent, no response byte came back.
 * `heads` counts the request heads seen.
 */
export async function startResettingOrigin(t: Cleanup): Promise<{ url: string; heads: () => number }> {
  let heads = 0
  const origin = await startRawOrigin(
    (conn) => {
      if (!conn.data.includes('\r\n\r\n')) return
      heads++
      conn.socket.resetAndDestroy()
    },
    { t },
  )
  return { url: origin.url, heads: () => heads }
}

/** TryCounter counts `portcullis:upstream:try` messages (one per upstream try) while it lives. */
export class TryCounter {
  readonly tries: UpstreamTryMessage[] = []
  private readonly onMessage = (m: unknown) => void this.tries.push(m as UpstreamTryMessage)

  constructor(t: Cleanup) {
    diagnostics.subscribe('portcullis:upstream:try', this.onMessage)
    t.after(() => diagnostics.unsubscribe('portcullis:upstream:try', this.onMessage))
  }
}
