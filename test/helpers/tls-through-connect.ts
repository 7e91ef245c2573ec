/**
 * A TLS client through a forward proxy's CONNECT tunnel that reports the
 * certificate it was shown and whether it chains to a given CA, without
 * refusing it (so a test can tell an intercepting leaf from an origin's own
 * certificate).
 */
import type { X509Certificate } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'

/** What the TLS client saw through the tunnel. */
export interface SeenCertificate {
  /** The certificate presented for the destination (the leaf). */
  cert: X509Certificate
  /** True when it chains to `ca` and names the host. */
  authorized: boolean
  /** Why it did not verify (e.g. `SELF_SIGNED_CERT_IN_CHAIN`), or undefined. */
  error: string | undefined
}

/**
 * certThroughConnect sends `CONNECT host:port` to the proxy on 127.0.0.1:`proxyPort`,
 * then a TLS handshake for `host` (SNI unless an IP) checked against `ca`.
 * Rejects when the CONNECT is not answered 200 or the handshake fails; bounded by `ms`.
 */
export function certThroughConnect(
  proxyPort: number,
  host: string,
  port: number,
  ca: string | Buffer,
  ms = 10_000,
): Promise<SeenCertificate> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(proxyPort, '127.0.0.1')
    const timer = setTimeout(() => fail(new Error(`no handshake with ${host}:${port} within ${ms} ms`)), ms)
    function fail(err: Error): void {
      clearTimeout(timer)
      raw.destroy()
      reject(err)
    }
    raw.on('error', fail)
    raw.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`)
    raw.once('data', (d: Buffer) => {
      if (!d.toString('latin1').startsWith('HTTP/1.1 200')) return fail(new Error(d.toString('latin1')))
      const s = tls.connect(
        { socket: raw, ca, host, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: false },
        () => {
          clearTimeout(timer)
          const error = s.authorizationError === null ? undefined : String(s.authorizationError)
          resolve({ cert: s.getPeerX509Certificate()!, authorized: s.authorized, error })
          s.destroy()
        },
      )
      s.on('error', fail)
    })
  })
}
