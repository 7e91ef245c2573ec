/**
 * HarRecorder over real sockets, what Chromium's devtools export carries:
 * WebSocket messages (`_webSocketMessages`, `_resourceType: "websocket"`)
 * through an intercepted CONNECT and an absolute-form upgrade, bounded and
 * saying so, and off (the byte pipe kept); request bodies (`postData`) as
 * text, form params, base64 and cut at the cap while the origin gets every
 * byte, through the forward proxy, interception and the reverse proxy. Each
 * written file is checked against HAR 1.2's required fields.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import type net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { type RawData, type WebSocket, WebSocketServer } from 'ws'
import { HarRecorder } from '../../src/forward/har.ts'
import { hasOpenssl } from '../fixtures/self-signed.ts'
import { curl, startForward, waitFor } from '../helpers/forward.ts'
import { proxyConfig, rawRequest, startGateway } from '../helpers/gateway.ts'
import { assertHar12, type HarEntry } from '../helpers/har.ts'
import { mitmFixture } from '../helpers/https-origin.ts'
import { wsThroughForward, wsThroughMitm } from '../helpers/websocket.ts'

const skip = !(await hasOpenssl()) && 'needs openssl'

type Cleanup = { after(fn: () => unknown): void }

/**
 * origin answers a POST with the length and sha256 of the body it got, and
 * echoes WebSocket messages: text as `echo TEXT`, binary reversed.
 * `extensions` collects each upgrade's Sec-WebSocket-Extensions.
 */
async function origin(
  t: Cleanup,
  server: http.Server,
  extensions: (string | undefined)[] = [],
): Promise<number> {
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const hash = createHash('sha256')
    let length = 0
    req.on('data', (b: Buffer) => {
      hash.update(b)
      length += b.length
    })
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ length, sha: hash.digest('hex') }))
    })
  })
  const wss = new WebSocketServer({ server, perMessageDeflate: true })
  wss.on('connection', (ws, req) => {
    extensions.push(req.headers['sec-websocket-extensions'])
    ws.on('message', (m: RawData, binary: boolean) => {
      if (binary) ws.send(Buffer.from(m as Buffer).reverse())
      else ws.send(`echo ${String(m)}`)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate()
        wss.close()
        server.closeAllConnections()
        server.close(() => r())
      }),
  )
  return (server.address() as net.AddressInfo).port
}

/** roundTrip sends `m` and waits for the echo. */
async function roundTrip(ws: WebSocket, m: string | Buffer): Promise<void> {
  const reply = once(ws, 'message')
  ws.send(m)
  await reply
}

/** closed closes `ws` and waits until the recorder logged its entry (the connection is gone). */
async function closed(ws: WebSocket, har: HarRecorder, entries: number): Promise<void> {
  ws.close()
  assert.ok(await waitFor(() => count(har) === entries, 5000), 'the WebSocket entry is logged at its close')
}

/** count: the entries logged (a WebSocket still open is in the document too, marked so). */
function count(har: HarRecorder): number {
  const entries = (har.toJSON() as { log: { entries: { comment?: string }[] } }).log.entries
  return entries.filter((e) => !e.comment?.includes('open when written')).length
}

/** written writes the HAR to a file, reads it back and checks it is HAR 1.2. */
async function written(t: Cleanup, har: HarRecorder): Promise<HarEntry[]> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-har-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await har.write(join(dir, 'capture.har'))
  return assertHar12(JSON.parse(await readFile(join(dir, 'capture.har'), 'utf8')))
}

/** post sends a POST to `url` through the forward proxy on `proxyPort` (absolute-form); chunked when `body` is a list. */
async function post(
  proxyPort: number,
  url: string,
  body: Buffer | Buffer[],
  headers: Record<string, string>,
): Promise<{ length: number; sha: string }> {
  const req = http.request({ host: '127.0.0.1', port: proxyPort, method: 'POST', path: url, headers })
  if (Array.isArray(body)) for (const b of body) req.write(b)
  req.end(Array.isArray(body) ? undefined : body)
  const [res] = (await once(req, 'response')) as [http.IncomingMessage]
  const chunks: Buffer[] = []
  for await (const c of res) chunks.push(c as Buffer)
  assert.equal(res.statusCode, 200)
  return JSON.parse(Buffer.concat(chunks).toString())
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

test(
  'HAR: an intercepted WebSocket’s messages in order, open and closed; an intercepted POST body',
  { skip },
  async (t) => {
    const { caDir, caPemPath: caPem, cert } = await mitmFixture(t)
    const port = await origin(t, https.createServer({ cert: cert.cert, key: cert.key }))
    const har = new HarRecorder()
    const fwd = await startForward(
      { allow: ['127.0.0.1'], mitm: { caDir, hosts: ['localhost'], upstreamCa: cert.certPath } },
      { t, hooks: har.hooks },
    )
    const body = '{"name":"é","n":1}'
    const r = await curl([
      '--cacert',
      caPem,
      '-x',
      fwd.proxy,
      '-H',
      'content-type: application/json',
      '-H',
      'Authorization: Bearer secret',
      '--data-binary',
      body,
      `https://localhost:${port}/api`,
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).sha, sha(Buffer.from(body)), 'the origin got the body as sent')
    assert.ok(await waitFor(() => count(har) === 1))

    const before = Date.now() / 1000
    const ws = await wsThroughMitm(t, fwd.port, new URL(`wss://localhost:${port}/chat?room=1`), caPem)
    // Compressed on the wire (the relay keeps permessage-deflate): the HAR has the messages, not the frames.
    assert.match(ws.extensions, /permessage-deflate/)
    await roundTrip(ws, 'hello')
    await roundTrip(ws, Buffer.from([1, 2, 3, 250]))
    await roundTrip(ws, 'bye')
    const expected = [
      ['send', 1, 'hello'],
      ['receive', 1, 'echo hello'],
      ['send', 2, Buffer.from([1, 2, 3, 250]).toString('base64')],
      ['receive', 2, Buffer.from([250, 3, 2, 1]).toString('base64')],
      ['send', 1, 'bye'],
      ['receive', 1, 'echo bye'],
    ]
    // Written while the WebSocket is open: in the file, with the messages so far.
    const open = (await written(t, har)).at(-1)!
    assert.match(open.comment ?? '', /WebSocket open when written/)
    assert.deepEqual(
      open._webSocketMessages!.map((m) => [m.type, m.opcode, m.data]),
      expected,
    )
    await closed(ws, har, 2)
    const after = Date.now() / 1000

    const [postEntry, wsEntry] = await written(t, har)
    assert.equal(postEntry!.request.method, 'POST')
    assert.deepEqual(postEntry!.request.postData, { mimeType: 'application/json', text: body })
    assert.equal(postEntry!.request.bodySize, Buffer.byteLength(body))
    assert.equal(
      postEntry!.request.headers.find((h) => h.name.toLowerCase() === 'authorization')?.value,
      '[redacted]',
    )

    assert.equal(wsEntry!.request.url, `wss://localhost:${port}/chat?room=1`)
    assert.equal(wsEntry!._resourceType, 'websocket')
    assert.equal(wsEntry!.response.status, 101)
    // The 101's head, which skips onResponse, is recorded too.
    const upgradeHeader = wsEntry!.response.headers.find((h) => h.name.toLowerCase() === 'upgrade')
    assert.equal(upgradeHeader?.value.toLowerCase(), 'websocket')
    assert.ok(wsEntry!.response.headers.some((h) => h.name.toLowerCase() === 'sec-websocket-accept'))
    assert.equal(wsEntry!.comment, undefined, 'closed, nothing cut')
    const messages = wsEntry!._webSocketMessages!
    assert.deepEqual(
      messages.map((m) => [m.type, m.opcode, m.data]),
      expected,
    )
    for (const [i, m] of messages.entries()) {
      assert.ok(m.time >= before - 1 && m.time <= after + 1, 'seconds since the epoch')
      if (i > 0) assert.ok(m.time >= messages[i - 1]!.time, 'in order')
    }
  },
)

test('HAR: WebSocket messages bounded (count and size, said so); off keeps the byte pipe', async (t) => {
  const extensions: (string | undefined)[] = []
  const port = await origin(t, http.createServer(), extensions)
  const url = new URL(`ws://127.0.0.1:${port}/feed`)
  const small = new HarRecorder({ maxWebSocketMessages: 3, maxBodySize: 8 })
  const fwd = await startForward({ allow: ['127.0.0.1'] }, { t, hooks: small.hooks })
  const ws = await wsThroughForward(t, fwd.port, url)
  await roundTrip(ws, 'short')
  await roundTrip(ws, 'aééééé') // 11 bytes: cut at 8 inside an é, which is left out
  await roundTrip(ws, Buffer.alloc(20, 7))
  // A request that begins after the WebSocket and ends before it: sorted by start in the file.
  const get = http.get({ host: '127.0.0.1', port: fwd.port, path: `http://127.0.0.1:${port}/later` })
  ;((await once(get, 'response'))[0] as http.IncomingMessage).resume()
  assert.ok(await waitFor(() => count(small) === 1))
  await closed(ws, small, 2)
  const [e, later] = await written(t, small)
  assert.equal(later!.request.url, `http://127.0.0.1:${port}/later`, 'entries in the order they began')
  assert.equal(e!.request.url, `ws://127.0.0.1:${port}/feed`)
  assert.deepEqual(
    e!._webSocketMessages!.map(({ time: _, ...m }) => m),
    [
      { type: 'send', opcode: 1, data: 'short' },
      { type: 'receive', opcode: 1, data: 'echo sho', _size: 10 },
      { type: 'send', opcode: 1, data: 'aééé', _size: 11 },
    ],
  )
  assert.equal(
    e!.comment,
    '2 WebSocket messages cut at 8 bytes; 3 WebSocket messages after the first 3 not kept',
  )

  const off = new HarRecorder({ webSocketMessages: false })
  assert.equal(off.hooks.onWebSocketMessage, undefined, 'no message hook: the upgrade stays a byte pipe')
  const plain = await startForward({ allow: ['127.0.0.1'] }, { t, hooks: off.hooks })
  const ws2 = await wsThroughForward(t, plain.port, url)
  await roundTrip(ws2, 'hello')
  assert.equal(ws2.extensions, 'permessage-deflate', 'the extension negotiated end to end')
  await closed(ws2, off, 1)
  const [e2] = await written(t, off)
  assert.equal(e2!._resourceType, 'websocket')
  assert.equal(e2!._webSocketMessages, undefined)
  assert.equal(e2!.response.status, 101)
})

test('HAR: request bodies in postData (text, form, binary, gzip, cut at the cap) while the origin gets every byte', async (t) => {
  const port = await origin(t, http.createServer())
  const base = `http://127.0.0.1:${port}`
  const har = new HarRecorder({ maxBodySize: 1000 })
  const fwd = await startForward({ allow: ['127.0.0.1'] }, { t, hooks: har.hooks })
  const json = Buffer.from('{"text":"héllo"}')
  const form = Buffer.from('a=1&b=two+words&c=%C3%A9')
  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const big = Buffer.alloc(300_000, 'x')
  big.write('start', 0)
  const gz = gzipSync('{"zipped":true}')
  const sent: [Buffer | Buffer[], Record<string, string>][] = [
    [json, { 'content-type': 'application/json' }],
    [form, { 'content-type': 'application/x-www-form-urlencoded' }],
    [binary, { 'content-type': 'application/octet-stream' }],
    // Chunked, in pieces: tapped as it streams, never held whole.
    [
      [big.subarray(0, 100_000), big.subarray(100_000, 200_000), big.subarray(200_000)],
      { 'content-type': 'text/plain' },
    ],
    [gz, { 'content-type': 'application/json', 'content-encoding': 'gzip' }],
  ]
  for (const [body, headers] of sent) {
    const got = await post(fwd.port, `${base}/up`, body, headers)
    const whole = Array.isArray(body) ? Buffer.concat(body) : body
    assert.deepEqual(got, { length: whole.length, sha: sha(whole) }, 'the origin got the body unchanged')
  }
  const get = http.get({ host: '127.0.0.1', port: fwd.port, path: `${base}/nobody` })
  ;((await once(get, 'response'))[0] as http.IncomingMessage).resume()
  assert.ok(await waitFor(() => count(har) === 6))
  const entries = await written(t, har)
  const pd = entries.map((e) => e.request.postData)
  assert.deepEqual(pd[0], { mimeType: 'application/json', text: '{"text":"héllo"}' })
  assert.deepEqual(pd[1], {
    mimeType: 'application/x-www-form-urlencoded',
    params: [
      { name: 'a', value: '1' },
      { name: 'b', value: 'two words' },
      { name: 'c', value: 'é' },
    ],
    text: 'a=1&b=two+words&c=%C3%A9',
  })
  assert.deepEqual(pd[2], {
    mimeType: 'application/octet-stream',
    text: binary.toString('base64'),
    _encoding: 'base64',
    comment: 'text is base64',
  })
  assert.equal(pd[3]!.text, big.subarray(0, 1000).toString())
  assert.equal(pd[3]!.comment, 'body cut at 1000 of 300000 bytes')
  assert.equal(entries[3]!.request.bodySize, 300_000)
  assert.deepEqual(pd[4], { mimeType: 'application/json', text: '{"zipped":true}' })
  assert.equal(entries[4]!.request.bodySize, gz.length, 'bodySize: as received')
  assert.equal(pd[5], undefined, 'no body, no postData')
  // Responses are still captured beside them.
  assert.equal(JSON.parse(entries[0]!.response.content.text as string).length, json.length)
})

test('HAR: a request body through the reverse proxy; maxBodySize 0 keeps none', async (t) => {
  const port = await origin(t, http.createServer())
  const har = new HarRecorder()
  const none = new HarRecorder({ maxBodySize: 0 })
  const gw = await startGateway(proxyConfig(`http://127.0.0.1:${port}`), {
    t,
    hooks: [har.hooks, none.hooks],
  })
  const body = Buffer.from('plain text body')
  const res = await fetch(`${gw.url}/r`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } })
  assert.equal(((await res.json()) as { sha: string }).sha, sha(body))
  assert.ok(await waitFor(() => count(har) === 1 && count(none) === 1))
  const [e] = await written(t, har)
  assert.deepEqual(e!.request.postData, { mimeType: 'text/plain', text: 'plain text body' })
  assert.equal(e!.request.url, `http://${gw.url.slice(7)}/r`)
  const [n] = await written(t, none)
  assert.equal(n!.request.postData, undefined)
  assert.equal(n!.request.bodySize, body.length)
})

test('HAR: body bytes that arrived while an earlier onRequestHead hook awaited are said to be missed', async (t) => {
  const port = await origin(t, http.createServer())
  const har = new HarRecorder()
  const slow = { onRequestHead: () => new Promise<void>((r) => setTimeout(r, 20)) }
  const gw = await startGateway(proxyConfig(`http://127.0.0.1:${port}`), { t, hooks: [slow, har.hooks] })
  // Head and body in one write: the body is read (and held) before the slow hook lets the recorder tap it.
  const head =
    'POST /late HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 15\r\nConnection: close\r\n\r\n'
  const res = await rawRequest(gw.port, head + 'plain text body')
  assert.equal(res.status, 200)
  assert.match(res.text, new RegExp(sha(Buffer.from('plain text body'))), 'the origin got the body')
  assert.ok(await waitFor(() => count(har) === 1))
  const [e] = await written(t, har)
  assert.deepEqual(e!.request.postData, {
    mimeType: 'text/plain',
    text: '',
    comment: 'capture began after 15 bytes; 0 of 15 kept',
  })
})
