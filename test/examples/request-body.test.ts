/**
 * examples/request-body.ts does what its comments promise: its config
 * (listener on port 0, the upstream moved to a test origin) and hook, a JSON
 * login body, plain and gzip, reaches the origin without `password` and with
 * the request id, with its new Content-Length; over 64 KiB is 413; a body
 * that is not JSON fails the hook (500) without reaching the origin.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { config, hooks } from '../../examples/request-body.ts'
import { rawRequest, startGateway, startOrigin } from '../helpers/gateway.ts'

test('examples/request-body.ts: password removed, request id added, 413 over the cap', async (t) => {
  const origin = await startOrigin(undefined, { t })
  const gw = await startGateway(
    {
      ...config,
      listen: [{ address: '127.0.0.1:0' }],
      upstreams: { app: { targets: [{ url: origin.url }] } },
    },
    { t, hooks },
  )
  const post = async (body: Buffer, extra = '') =>
    (
      await rawRequest(gw.port, [
        `POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Request-Id: req-1\r\n${extra}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
        body,
      ])
    ).text
  const login = Buffer.from('{"user":"ann","password":"x"}')
  for (const [body, extra] of [
    [login, ''],
    [gzipSync(login), 'Content-Encoding: gzip\r\n'],
  ] as const) {
    assert.match(await post(body, extra), /^HTTP\/1\.1 200/)
    const seen = origin.requests.at(-1)!
    assert.equal(seen.body.toString(), '{"user":"ann","requestId":"req-1"}')
    assert.equal(seen.headers['content-length'], String(seen.body.length))
    assert.equal(seen.headers['content-encoding'], undefined)
  }
  const sent = origin.requests.length
  assert.match(await post(Buffer.from(JSON.stringify({ big: 'x'.repeat(70_000) }))), /^HTTP\/1\.1 413/)
  assert.match(await post(Buffer.from('not json')), /^HTTP\/1\.1 500/)
  assert.equal(origin.requests.length, sent, 'neither reached the origin')
})
