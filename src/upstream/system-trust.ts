/**
 * One client TLS context for every upstream connection verified against the
 * default CAs (the system store, NODE_EXTRA_CA_CERTS), instead of the new
 * one `tls.connect` makes per connection without `secureContext`: making an
 * OpenSSL context costs ~0.15-0.3 ms, paid by each new upstream connection
 * (measured with tls.createSecureContext() in a loop, Node 24). The context
 * is made again when the default CAs change at runtime
 * (`tls.setDefaultCACertificates`): Node then returns a new array from
 * `tls.getCACertificates('default')`, and the same array otherwise.
 */
import tls from 'node:tls'

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
