/**
 * Where and how an upstream connection connects (Endpoint), and the TLS
 * options every TLS connection to an endpoint is made with.
 *
 * One client TLS context serves every upstream connection verified against
 * the default CAs (the system store, NODE_EXTRA_CA_CERTS), instead of the
 * new one `tls.connect` makes per connection without `secureContext`:
 * making an OpenSSL context costs ~0.15-0.3 ms, paid by each new upstream
 * connection (measured with tls.createSecureContext() in a loop, Node 24).
 * The context is made again when the default CAs change at runtime
 * (`tls.setDefaultCACertificates`): Node then returns a new array from
 * `tls.getCACertificates('default')`, and the same array otherwise.
 */
import type net from 'node:net'
import tls from 'node:tls'

/** Where and how to connect. */
export interface Endpoint {
  host: string
  port: number
  tls: boolean
  /** SNI and certificate name for TLS; undefined for IP literals (RFC 6066 §3 forbids them in SNI). */
  servername: string | undefined
  /** The trusted CA certificates when not only the system's (Node's `ca` replaces them, so it includes them). */
  ca: string[] | undefined
  /** Verify the target's certificate. */
  verify: boolean
  /**
   * The TLS context made from `ca`, once per endpoint: given `ca`, Node
   * would build a new context (copying every root certificate) for each
   * connection, ~1 ms each on a quiet machine.
   */
  context?: tls.SecureContext
  /**
   * TLS on the socket this opens, not TCP to host:port: a CONNECT through a
   * chained proxy (forward/forward-routes.ts chainVia), whose tunnel's own
   * socket TLS then runs on natively (over a JavaScript stream it cost ~1.36x
   * the CPU per request, bench/forward/chained.ts).
   */
  openVia?: () => Promise<net.Socket>
}

/** tlsOptions: what every TLS connection to `endpoint` is made with (SNI, ALPN, trust, verification). */
export function tlsOptions(endpoint: Endpoint): tls.ConnectionOptions {
  return {
    servername: endpoint.servername,
    ALPNProtocols: ['http/1.1'],
    secureContext:
      endpoint.ca === undefined
        ? systemTrustContext()
        : (endpoint.context ??= tls.createSecureContext({ ca: endpoint.ca })),
    rejectUnauthorized: endpoint.verify,
  }
}

let context: tls.SecureContext | undefined
let madeFor: readonly string[] | undefined

/** systemTrustContext: the shared context trusting the default CAs as they are now. */
export function systemTrustContext(): tls.SecureContext {
  const current = tls.getCACertificates('default')
  if (context === undefined || current !== madeFor) {
    context = tls.createSecureContext()
    madeFor = current
  }
  return context
}
