/**
 * RFC 9112 §3.2.2: a proxy that receives an absolute-form request-target
 * ignores the Host field it was sent and replaces it with the target's
 * authority. The origin sees exactly one Host, the target's, whatever the
 * client said; an empty path is sent as `/` (§3.2.1), or as `*` for a
 * server-wide OPTIONS (§3.2.4). A request without
 * Host, or with two, is still a bad HTTP/1.1 request (§3.2: 400).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startOrigin } from '../helpers/gateway.ts'
import { curl, startForward } from '../helpers/forward.ts'
import { RawClient } from '../helpers/raw-client.ts'

test('absolute-form: the origin sees Host = the target authority, not the Host the client sent', async (t) => {
  const origin = await startOrigin((req, res) => res.end(`${req.url} host=${req.headers.host}`), { t })
  const fwd = await startForward({ allow: ['127.0.0.1'] }, { t })
  const authority = `127.0.0.1:${origin.port}`

  const cases: [request: string, path: string][] = [
    [`GET http://${authority}/a?b=1 HTTP/1.1\r\nHost: evil.example:81\r\n\r\n`, '/a?b=1'],
    [`GET http://${authority}/c HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n`, '/c'],
    // Host first in the field block, with other fields around it.
    [`GET http://${authority}/d HTTP/1.1\r\nHost: other\r\nAccept: */*\r\n\r\n`, '/d'],
    // HTTP/1.0 needs no Host; the origin gets one all the same.
    [`GET http://${authority}/e HTTP/1.0\r\n\r\n`, '/e'],
    // An empty path is sent as "/" (RFC 9112 §3.2.1), the query kept.
    [`GET http://${authority}?q=2 HTTP/1.1\r\nHost: elsewhere\r\n\r\n`, '/?q=2'],
    // A server-wide OPTIONS (empty path, no query) goes on as `*` (RFC 9112 §3.2.4); with a query, as `/?q`.
    [`OPTIONS http://${authority} HTTP/1.1\r\nHost: elsewhere\r\n\r\n`, '*'],
    [`OPTIONS http://${authority}?x HTTP/1.1\r\nHost: elsewhere\r\n\r\n`, '/?x'],
  ]
  for (const [request, path] of cases) {
    const c = await RawClient.connect(fwd.port, t)
    c.write(request)
    const res = await c.response()
    const line = request.slice(0, request.indexOf('\r\n'))
    assert.equal(res.status, 200, line)
    assert.equal(res.body.toString(), `${path} host=${authority}`, line)
    c.destroy()
  }
  // Exactly one Host field reached the origin each time.
  assert.equal(origin.requests.length, cases.length)
  for (const r of origin.requests) {
    const hosts = r.rawHeaders.filter((_, i) => i % 2 === 0 && r.rawHeaders[i]!.toLowerCase() === 'host')
    assert.equal(hosts.length, 1, r.url)
  }

  // A real client: curl -H Host through the proxy.
  const viaCurl = await curl(['-x', fwd.proxy, '-H', 'Host: spoofed.example', `http://${authority}/curl`])
  assert.equal(viaCurl.code, 0, viaCurl.stderr)
  assert.equal(viaCurl.stdout, `/curl host=${authority}`)

  // HTTP/1.1 without a Host, or with two, is refused before it reaches the origin (RFC 9112 §3.2).
  for (const fields of ['', 'Host: a\r\nHost: b\r\n']) {
    const c = await RawClient.connect(fwd.port, t)
    c.write(`GET http://${authority}/bad HTTP/1.1\r\n${fields}\r\n`)
    const res = await c.response()
    assert.equal(res.status, 400, JSON.stringify(fields))
    assert.match(res.body.toString(), /code: MALFORMED_REQUEST/)
  }
  assert.equal(origin.requests.length, cases.length + 1, 'the refused requests never reached the origin')
})
