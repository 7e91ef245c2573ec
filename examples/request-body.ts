/**
 * A request-body interceptor (docs/architecture.md, "Whole-body hooks"): a
 * reverse proxy to http://127.0.0.1:3000 whose hook removes a `password`
 * field from JSON request bodies before they go upstream, and stamps them
 * with the request id. The body is handed over decoded (a gzip upload
 * too), and sent on with its new Content-Length. Run it:
 *
 *   node examples/request-body.ts                     # Node 24 runs TypeScript as is
 *   curl -H 'content-type: application/json' -d '{"user":"ann","password":"x"}' http://127.0.0.1:8080/login
 *   # the origin gets {"user":"ann","requestId":"…"}
 *
 * A body over 64 KiB is answered 413, one that does not decode 400: neither
 * reaches the origin. The same hook works for forward and intercepted
 * requests (`session.source` says which).
 */
import type { GatewayConfigInput } from '../src/config/schema.ts'
import type { GatewayHooks } from '../src/core/hooks.ts'
import { rewriteRequestBody } from '../src/forward/whole-body.ts'
import { createGateway } from '../src/server/gateway.ts'

export const config: GatewayConfigInput = {
  listen: [{ address: '127.0.0.1:8080' }],
  upstreams: { app: { targets: [{ url: 'http://127.0.0.1:3000' }] } },
  routes: [{ name: 'app', match: {}, upstream: 'app' }],
}

export const hooks: GatewayHooks = {
  onRequest(session) {
    if (!session.header('content-type')?.startsWith('application/json')) return
    rewriteRequestBody(
      session,
      (body) => {
        const json = JSON.parse(body.toString()) as Record<string, unknown>
        delete json.password
        return JSON.stringify({ ...json, requestId: session.id })
      },
      { maxSize: 64 * 1024 },
    )
  },
}

if (import.meta.main) {
  const gw = await createGateway(config, { hooks })
  await gw.listen()
  process.stderr.write('reverse proxy rewriting JSON request bodies on http://127.0.0.1:8080\n')
  process.once('SIGINT', () => void gw.close())
}
