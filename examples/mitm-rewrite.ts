/**
 * A rewriting interceptor (docs/configuration.md, "forward.mitm", "Whole
 * bodies"): a forward proxy that opens the TLS of the hosts you name and
 * changes their pages on the way back, what a mitmproxy addon's `response`
 * hook does, in TypeScript. Run it:
 *
 *   npx portcullis ca init --dir ./ca       # then trust ca/ca.pem (`npx portcullis ca show` says how)
 *   node examples/mitm-rewrite.ts           # Node 24 runs TypeScript as is
 *   curl --cacert ca/ca.pem -x http://127.0.0.1:3128 https://example.com/              # the page, with a banner
 *   curl --compressed --cacert ca/ca.pem -x http://127.0.0.1:3128 https://example.com/ # the same, sent gzip
 *   curl -x http://127.0.0.1:3128 https://example.org/     # tunnelled: example.org's own certificate
 *
 * The onConnect hook decides per CONNECT: a host in `intercepted` is
 * intercepted (a leaf from ./ca, each request inside a Session with
 * `source: 'mitm'`), any other is tunnelled untouched, so the client sees
 * the origin's own certificate. `intercepted` is a Set the program may
 * change while it runs; the next CONNECT follows it.
 *
 * The onResponse hook hands HTML and plain-text bodies whole to
 * rewriteBody: an HTML page gets a banner before `</body>`, a text one a
 * last line. A gzip (or deflate, br) origin body is decoded for the hook
 * and, with `reencode`, the result encoded again in the same coding, so a
 * client that asked for gzip still gets gzip; Content-Length and ETag of the
 * old body are removed (the body goes chunked), so the fields always
 * describe the bytes sent. Other types stream through untouched.
 */
import { createGateway, type GatewayConfigInput, type GatewayHooks, rewriteBody } from '../src/index.ts'

export const config: GatewayConfigInput = {
  listen: [],
  forward: {
    address: '127.0.0.1:3128',
    // The onConnect hook below decides every CONNECT; were it to return
    // undefined, these patterns (none) would, and nothing be intercepted.
    mitm: { caDir: './ca', hosts: [] },
  },
}

/** The hosts whose TLS is opened and whose pages are rewritten. */
export const intercepted = new Set(['example.com', 'localhost'])

/** What an HTML page gets before `</body>`. */
export const BANNER = '<p id="portcullis">seen by portcullis</p>'

/** What a plain-text body gets as its last line. */
export const TEXT_LINE = '-- seen by portcullis\n'

export const hooks: GatewayHooks = {
  onConnect(session) {
    return intercepted.has(session.destination!.host) ? 'intercept' : 'tunnel'
  },
  onResponse(session, res) {
    if (session.source !== 'mitm') return
    const type = res.headers.get('content-type') ?? ''
    if (type.startsWith('text/html')) {
      rewriteBody(res, (html) => withBanner(html.toString()), { reencode: true, maxSize: 4 * 1024 * 1024 })
    } else if (type.startsWith('text/plain')) {
      rewriteBody(res, (text) => `${text.toString()}${TEXT_LINE}`, { reencode: true })
    }
  },
}

/** withBanner puts the banner before the last `</body>`, or at the end of a page without one. */
function withBanner(html: string): string {
  const end = html.lastIndexOf('</body>')
  return end === -1 ? html + BANNER : html.slice(0, end) + BANNER + html.slice(end)
}

if (import.meta.main) {
  const gw = await createGateway(config, { hooks })
  await gw.listen()
  process.stderr.write(
    `rewriting proxy on http://127.0.0.1:3128, intercepting ${[...intercepted].join(', ')}\n`,
  )
  process.once('SIGINT', () => void gw.close())
}
