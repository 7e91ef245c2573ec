/**
 * The leaf an intercepting proxy presents: issued by the local CA, short
 * lived (about 7 days: valid from an hour back, for clock skew, to 7 days
 * on), naming exactly the intercepted host (a DNS name, or an IP address
 * SAN for an IP), and not a CA itself.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { startForward } from '../helpers/forward.ts'
import { mitmFixture } from '../helpers/https-origin.ts'
import { certThroughConnect } from '../helpers/tls-through-connect.ts'

const skip = !(await hasOpenssl()) && 'needs openssl'

const HOUR = 3600_000
const DAY = 24 * HOUR

test(
  'an intercepted host gets a leaf valid about 7 days, its SAN the host, signed by the CA',
  { skip },
  async (t) => {
    const { caDir, caPem, ca, cert, port } = await mitmFixture(t, (_req, res) => res.end('ok'))
    const fwd = await startForward(
      { allow: ['127.0.0.1'], mitm: { caDir, hosts: ['localhost', '127.0.0.1'], upstreamCa: cert.certPath } },
      { t },
    )

    for (const [host, san] of [
      ['localhost', 'DNS:localhost'],
      ['127.0.0.1', 'IP Address:127.0.0.1'],
    ] as const) {
      const before = Date.now()
      const seen = await certThroughConnect(fwd.port, host, port, caPem)
      const after = Date.now()
      assert.ok(seen.authorized, `${host}: ${seen.error}`)
      const leaf = seen.cert
      const from = Date.parse(leaf.validFrom)
      const to = Date.parse(leaf.validTo)
      // About 7 days in all; valid now, and not for much more than a week from now.
      const span = to - from
      assert.ok(span >= 7 * DAY - HOUR && span <= 7 * DAY + 2 * HOUR, `${host}: spans ${span / DAY} days`)
      assert.ok(from <= before, `${host}: valid from ${leaf.validFrom}, before it was presented`)
      assert.ok(from >= before - 2 * HOUR, `${host}: not backdated more than the skew allowance`)
      assert.ok(to >= after + 6 * DAY && to <= after + 7 * DAY + HOUR, `${host}: valid to ${leaf.validTo}`)
      // The SAN is the host, and only it.
      assert.equal(leaf.subjectAltName, san)
      if (host === 'localhost') {
        assert.equal(leaf.checkHost('localhost'), 'localhost')
        assert.equal(leaf.checkHost('example.com'), undefined)
      } else {
        assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1')
        assert.equal(leaf.checkIP('127.0.0.2'), undefined)
      }
      // Issued and signed by the local CA, within the CA's own validity, and no CA itself.
      assert.ok(leaf.checkIssued(ca))
      assert.ok(leaf.verify(ca.publicKey))
      assert.equal(leaf.issuer, ca.subject)
      assert.equal(leaf.ca, false)
      assert.ok(to <= Date.parse(ca.validTo))
    }
  },
)
