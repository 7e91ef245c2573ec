import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { GatewayError } from '../core/errors.ts'
import { describeCause } from './upstream-failure.ts'
import { prettyLine } from './pretty-line.ts'

function sysError(code: string, message: string, extra: object = {}): Error {
  return Object.assign(new Error(message), { code, ...extra })
}

describe('describeCause', () => {
  const target = 'https://api.example.com:8443'
  it('keeps an errno message that names its code', () => {
    const err = new GatewayError('UPSTREAM_RESET', 'read ECONNRESET', {
      cause: sysError('ECONNRESET', 'read ECONNRESET'),
    })
    assert.deepEqual(describeCause(err, target, 5), { cause: 'read ECONNRESET', errno: 'ECONNRESET' })
  })
  it('a connect ETIMEDOUT from the kernel', () => {
    const cause = sysError('ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:443')
    const err = new GatewayError('UPSTREAM_CONNECT_FAILED', cause.message, { cause })
    assert.equal(describeCause(err, target, 5).cause, 'connect ETIMEDOUT 10.0.0.1:443')
  })
  it('a certificate for another name', () => {
    const cause = sysError(
      'ERR_TLS_CERT_ALTNAME_INVALID',
      "Hostname/IP does not match certificate's altnames: Host: api.example.com. is not in the cert's altnames: DNS:other.example.com",
    )
    const d = describeCause(new GatewayError('UPSTREAM_CONNECT_FAILED', 'x', { cause }), target, 5)
    assert.equal(d.what, 'certificate verify failed')
    assert.match(
      d.cause,
      /^certificate verify failed: ERR_TLS_CERT_ALTNAME_INVALID \/ Hostname\/IP does not match .* for api\.example\.com:8443$/,
    )
  })
  it('a TLS handshake that is not a verification failure', () => {
    const cause = sysError('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number')
    const d = describeCause(new GatewayError('UPSTREAM_CONNECT_FAILED', 'x', { cause }), target, 5)
    assert.equal(
      d.cause,
      'TLS handshake failed: ERR_SSL_WRONG_VERSION_NUMBER / wrong version number with api.example.com:8443',
    )
  })
  it('no cause: the message; a timeout: its kind and duration', () => {
    assert.deepEqual(
      describeCause(
        new GatewayError('UPSTREAM_RESET', 'upstream closed the connection mid-response'),
        target,
        1,
      ),
      {
        cause: 'upstream closed the connection mid-response',
      },
    )
    assert.deepEqual(
      describeCause(new GatewayError('UPSTREAM_IDLE_TIMEOUT', 'upstream idle'), target, 60000.4),
      {
        cause: 'idle timeout after 60000 ms',
        timeout: 'idle',
      },
    )
  })
})

describe('prettyLine', () => {
  it('time, level, message, then key=value (quoted when needed); multi-line fields below', () => {
    const json = JSON.stringify({
      level: 'error',
      time: '2026-01-01T00:00:00.000Z',
      code: 'X',
      cause: 'a b',
      n: 3,
      msg: 'failed',
      problems: 'one\ntwo',
    })
    const text = prettyLine(json, false)
    assert.match(
      text,
      /^\d\d:\d\d:\d\d\.000 ERROR failed {2}code=X cause="a b" n=3\n {2}problems:\n {4}one\n {4}two\n$/,
    )
  })
})
