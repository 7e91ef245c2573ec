/**
 * The typed phase hooks of createGateway(config, { hooks }) over real
 * sockets: what each phase may do (answer, rewrite, replace an error), in
 * what order several hook objects run, how state travels in `session.ctx`,
 * and that onLog sees every request exactly once.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { CONTINUE, type GatewayHooks, respond } from '../../src/core/hooks.ts'
import type { Session } from '../../src/core/session.ts'
import { createGateway, type Gateway } from '../../src/server/gateway.ts'
import { waitFor } from '../helpers/gateway.ts'

interface OriginSaw {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  bytes: number
}

let origin: http.Server
let originUrl: string
let saw: OriginSaw[] = []
/** A port nothing listens on: connecting to it is refused. */
let deadPort: number

before(async () => {
  origin = http.createServer((req, res) => {
    let bytes = 0
    req.on('data', (d: Buffer) => (bytes += d.length))
    req.on('end', () => {
      saw.push({ method: req.method!, url: req.url!, headers: req.headers, bytes })
      if (req.url!.startsWith('/api/stream')) {
        // A body that never ends, for clients that leave mid-response.
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.write('x'.repeat(1000))
        return
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-origin-secret': 'hide me' })
      res.end(JSON.stringify({ url: req.url, bytes }))
    })
  })
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
  const probe = net.createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  deadPort = (probe.address() as AddressInfo).port
  await new Promise((r) => probe.close(r))
})

after(async () => {
  origin.closeAllConnections()
  await new Promise((r) => origin.close(r))
})

/** withGateway runs `fn` against a gateway with `hooks`, routes /api and /dead (refused) and /fixed. */
async function withGateway<Ctx extends object = Record<string, unknown>>(
  hooks: GatewayHooks<Ctx> | GatewayHooks<Ctx>[],
  fn: (port: number, gw: Gateway) => Promise<void>,
): Promise<void> {
  saw = []
  const gw = await createGateway<Ctx>(
    {
      listen: [{ address: '127.0.0.1:0' }],
      upstreams: {
        app: { targets: [{ url: originUrl }] },
        dead: { targets: [{ url: `http://127.0.0.1:${deadPort}` }] },
      },
      routes: [
        { name: 'fixed', match: { path: '/fixed' }, respond: { body: 'fixed body' } },
        { name: 'dead', match: { path: '/dead' }, upstream: 'dead' },
        { name: 'api', match: { path: '/api' }, upstream: 'app' },
      ],
    },
    { hooks },
  )
  await gw.listen()
  try {
    await fn(gw.addresses()[0]!.port, gw)
  } finally {
    await gw.close({ drainTimeout: 100 })
  }
}

interface Reply {
  status: number
  statusText: string
  headers: http.IncomingHttpHeaders
  body: string
}

/** send makes one request on its own connection and reads the whole answer. */
function send(
  port: number,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: string | Buffer; agent?: http.Agent } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path,
      method: o.method ?? (o.body === undefined ? 'GET' : 'POST'),
      headers: o.headers,
      agent: o.agent ?? false,
    })
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () =>
        resolve({ status: res.statusCode!, statusText: res.statusMessage!, headers: res.headers, body }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(o.body)
  })
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms))

describe('onRequestHead', () => {
  it('answers early without routing or reaching the origin', async () => {
    const seenRoutes: unknown[] = []
    await withGateway(
      {
        onRequestHead(s) {
          seenRoutes.push(s.route)
          if (s.header('x-block') !== undefined) return respond(403, 'blocked\n', { 'x-blocked-by': 'hook' })
          return CONTINUE
        },
      },
      async (port) => {
        const r = await send(port, '/api/x', { headers: { 'x-block': '1' } })
        assert.equal(r.status, 403)
        assert.equal(r.body, 'blocked\n')
        assert.equal(r.headers['x-blocked-by'], 'hook')
        assert.ok(r.headers['x-request-id'], 'gateway-made answers carry the request id')
        // Even with a large body on its way: the answer comes, the body is not forwarded.
        const big = await send(port, '/api/y', { headers: { 'x-block': '1' }, body: Buffer.alloc(1 << 20) })
        assert.equal(big.status, 403)
        assert.equal(saw.length, 0, 'the origin saw nothing')
        // A path no route matches is still offered to the hook first.
        assert.equal((await send(port, '/nowhere', { headers: { 'x-block': '1' } })).status, 403)

        const ok = await send(port, '/api/z')
        assert.equal(ok.status, 200)
        assert.equal(saw.length, 1)
        assert.deepEqual(seenRoutes, [undefined, undefined, undefined, undefined], 'runs before routing')
      },
    )
  })
})

describe('onRequest', () => {
  it('sees the matched route and can answer', async () => {
    const seen: string[] = []
    await withGateway(
      {
        onRequest(s) {
          seen.push(`${s.route?.name}:${s.route?.upstream}`)
          if (s.path === '/api/deny') return respond(401, 'no', { 'www-authenticate': 'Bearer' })
        },
      },
      async (port) => {
        const denied = await send(port, '/api/deny')
        assert.equal(denied.status, 401)
        assert.equal(denied.headers['www-authenticate'], 'Bearer')
        assert.equal(saw.length, 0)
        assert.equal((await send(port, '/api/ok?q=1')).status, 200)
        assert.equal((await send(port, '/fixed')).body, 'fixed body')
        assert.equal((await send(port, '/nowhere')).status, 404)
        assert.deepEqual(seen, ['api:app', 'api:app', 'fixed:undefined'], 'no route, no onRequest')
      },
    )
  })
})

describe('async hooks', () => {
  it('are awaited in every phase, in order', async () => {
    const order: string[] = []
    await withGateway(
      {
        async onRequestHead() {
          await tick()
          order.push('head')
        },
        async onRequest(s) {
          await tick()
          order.push('request')
          if (s.path === '/api/later-deny') return respond(429, 'slow down')
          return CONTINUE
        },
        async onUpstreamRequest(_s, req) {
          await tick()
          order.push('upstream')
          req.headers.set('x-async', 'yes')
        },
        async onResponse(_s, res) {
          await tick()
          order.push('response')
          res.headers.set('x-async-response', 'yes')
        },
      },
      async (port) => {
        const r = await send(port, '/api/a', { body: 'payload' })
        assert.equal(r.status, 200)
        assert.equal(r.headers['x-async-response'], 'yes')
        assert.equal(saw[0]!.headers['x-async'], 'yes')
        assert.equal(saw[0]!.bytes, 7, 'the body waited for the hooks and arrived whole')
        assert.deepEqual(order, ['head', 'request', 'upstream', 'response'])
        const denied = await send(port, '/api/later-deny')
        assert.equal(denied.status, 429)
        assert.equal(denied.body, 'slow down')
      },
    )
  })
})

describe('a failing hook', () => {
  const secret = 'db password is hunter2'
  for (const phase of ['onRequestHead', 'onRequest', 'onUpstreamRequest', 'onResponse'] as const) {
    for (const how of ['throws', 'rejects'] as const) {
      it(`${phase} that ${how} gives 500 HOOK_FAILED with the request id, no internals`, async () => {
        const fail = (): never => {
          throw new Error(secret)
        }
        const hook = how === 'throws' ? fail : async () => fail()
        let logged: Session | undefined
        await withGateway({ [phase]: hook, onLog: (s: Session) => (logged = s) }, async (port) => {
          const r = await send(port, '/api/x', { headers: { 'x-request-id': 'req-abc-123' } })
          assert.equal(r.status, 500)
          assert.equal(r.headers['x-request-id'], 'req-abc-123')
          assert.match(r.body, /HOOK_FAILED/)
          assert.match(r.body, /req-abc-123/)
          assert.ok(!r.body.includes(secret), 'the message stays in the logs')
          assert.ok(!/\bat .*\.ts:\d+/.test(r.body), 'no stack trace')

          const j = await send(port, '/api/y', { headers: { accept: 'application/json' } })
          assert.equal(j.status, 500)
          const parsed = JSON.parse(j.body) as { error: { code: string; requestId: string } }
          assert.equal(parsed.error.code, 'HOOK_FAILED')
          assert.equal(parsed.error.requestId, j.headers['x-request-id'])
          await waitFor(() => logged?.head.target === '/api/y', 'the log')
          assert.equal(logged!.error?.code, 'HOOK_FAILED')
          assert.equal(logged!.error?.message, secret, 'operators get the message')
        })
      })
    }
  }

  it('a throwing onLog or onError does not break the response', async () => {
    await withGateway(
      {
        onError() {
          throw new Error('bad onError')
        },
        onLog() {
          throw new Error('bad onLog')
        },
      },
      async (port) => {
        assert.equal((await send(port, '/api/x')).status, 200)
        const dead = await send(port, '/dead')
        assert.equal(dead.status, 502)
        assert.match(dead.body, /UPSTREAM_CONNECT_REFUSED/)
      },
    )
  })
})

describe('onUpstreamRequest', () => {
  it('adds and removes headers and rewrites the method and path', async () => {
    await withGateway(
      {
        onUpstreamRequest(s, req) {
          assert.equal(req.path, s.head.target, 'starts as the client sent it')
          assert.equal(req.headers.get('host'), s.host)
          req.headers.set('x-added', 'by hook')
          req.headers.delete('x-secret')
          req.path = `/api/v2${req.path.slice('/api'.length)}`
          if (s.header('x-as-put') !== undefined) req.method = 'PUT'
        },
      },
      async (port) => {
        const r = await send(port, '/api/items?id=7', { headers: { 'x-secret': 'token', 'x-kept': 'k' } })
        assert.equal(r.status, 200)
        const o = saw[0]!
        assert.equal(o.url, '/api/v2/items?id=7')
        assert.equal(o.headers['x-added'], 'by hook')
        assert.equal(o.headers['x-secret'], undefined)
        assert.equal(o.headers['x-kept'], 'k')
        assert.equal(o.headers['x-forwarded-for'], '127.0.0.1', 'the gateway’s own headers are there')
        await send(port, '/api/put', { headers: { 'x-as-put': '1' }, body: 'abc' })
        assert.equal(saw[1]!.method, 'PUT')
        assert.equal(saw[1]!.bytes, 3)
      },
    )
  })
})

describe('onResponse', () => {
  it('changes the status and headers the client gets', async () => {
    await withGateway(
      {
        onResponse(s, res) {
          assert.equal(res.status, 200)
          res.headers.delete('x-origin-secret')
          res.headers.set('x-served-by', 'portcullis')
          if (s.path === '/api/203') res.status = 203
        },
      },
      async (port) => {
        const r = await send(port, '/api/203')
        assert.equal(r.status, 203)
        assert.equal(r.statusText, 'Non-Authoritative Information', 'the reason follows a changed status')
        assert.equal(r.headers['x-served-by'], 'portcullis')
        assert.equal(r.headers['x-origin-secret'], undefined)
        assert.deepEqual(JSON.parse(r.body), { url: '/api/203', bytes: 0 }, 'the body is untouched')
        const plain = await send(port, '/api/other')
        assert.equal(plain.status, 200)
        assert.equal(plain.statusText, 'OK')
      },
    )
  })
})

describe('onError', () => {
  it('replaces the error response, seeing the typed error', async () => {
    const codes: string[] = []
    await withGateway(
      {
        onError(s, err) {
          codes.push(err.code)
          if (err.code === 'UPSTREAM_CONNECT_REFUSED') {
            return { status: 503, headers: { 'retry-after': '5' }, body: `down, ref ${s.id}` }
          }
          return undefined
        },
      },
      async (port) => {
        const r = await send(port, '/dead')
        assert.equal(r.status, 503)
        assert.equal(r.headers['retry-after'], '5')
        assert.equal(r.body, `down, ref ${r.headers['x-request-id']}`)
        const nf = await send(port, '/nowhere')
        assert.equal(nf.status, 404, 'undefined keeps the default')
        assert.match(nf.body, /NO_ROUTE/)
        assert.deepEqual(codes, ['UPSTREAM_CONNECT_REFUSED', 'NO_ROUTE'])
      },
    )
  })
})

describe('onLog', () => {
  it('runs exactly once per request with status, timings and bytes', async () => {
    const logs: Session[] = []
    await withGateway(
      {
        onRequestHead(s) {
          if (s.path === '/api/early') return respond(418, 'teapot')
        },
        onLog(s) {
          logs.push(s)
        },
      },
      async (port) => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
        try {
          const r = await send(port, '/api/proxied', { body: 'x'.repeat(1234), agent })
          await send(port, '/api/early', { agent })
          await send(port, '/fixed', { agent })
          await send(port, '/dead', { agent })
          await send(port, '/nowhere', { agent })
          await waitFor(() => logs.length === 5, 'five logs')
          const [proxied, early, fixed, dead, none] = logs
          assert.deepEqual(
            logs.map((s) => [s.path, s.status]),
            [
              ['/api/proxied', 200],
              ['/api/early', 418],
              ['/fixed', 200],
              ['/dead', 502],
              ['/nowhere', 404],
            ],
          )
          assert.equal(proxied!.bytesIn, 1234)
          assert.ok(proxied!.bytesOut > r.body.length, 'head and body bytes')
          assert.equal(proxied!.target, originUrl)
          assert.equal(proxied!.route?.name, 'api')
          const t = proxied!.timings
          assert.ok(
            t.head >= 0 && t.upstreamConnected > 0 && t.upstreamHead >= t.upstreamConnected,
            JSON.stringify(t),
          )
          assert.ok(t.end >= t.upstreamHead, JSON.stringify(t))
          assert.equal(proxied!.error, undefined)
          assert.ok(early!.timings.end > 0 && early!.timings.upstreamHead === 0)
          assert.ok(early!.bytesOut > 'teapot'.length)
          assert.equal(fixed!.route?.name, 'fixed')
          assert.equal(dead!.error?.code, 'UPSTREAM_CONNECT_REFUSED')
          assert.equal(none!.error?.code, 'NO_ROUTE')
          assert.equal(new Set(logs.map((s) => s.id)).size, 5, 'one log per request id')
        } finally {
          agent.destroy()
        }
        await tick(50)
        assert.equal(logs.length, 5, 'and never twice')
      },
    )
  })

  it('logs a request whose client left mid-response once, as aborted', async () => {
    const logs: Session[] = []
    await withGateway({ onLog: (s) => logs.push(s) }, async (port) => {
      const sock = net.connect(port, '127.0.0.1')
      sock.on('error', () => {})
      await once(sock, 'connect')
      sock.write('GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n')
      await waitFor(() => saw.length === 1, 'the origin to start streaming')
      sock.destroy()
      // Also a malformed request: it is a request too, and gets its log line.
      const bad = net.connect(port, '127.0.0.1')
      bad.on('error', () => {})
      await once(bad, 'connect')
      bad.end('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n')
      bad.resume() // read the 400 to its end, so 'close' can come
      await once(bad, 'close')
      await waitFor(() => logs.length === 2, 'two logs')
      await tick(50)
      assert.equal(logs.length, 2)
      const aborted = logs.find((s) => s.path === '/api/stream')!
      assert.equal(aborted.error?.code, 'CLIENT_ABORTED')
      assert.equal(aborted.status, 200, 'the status that was sent')
      const malformed = logs.find((s) => s !== aborted)!
      assert.equal(malformed.status, 400)
      assert.equal(malformed.error?.code, 'MALFORMED_REQUEST')
    })
  })
})

describe('session.ctx', () => {
  interface Ctx {
    trail?: string[]
    user?: string
  }
  it('carries typed state from phase to phase', async () => {
    let final: Ctx | undefined
    await withGateway<Ctx>(
      {
        onRequestHead(s) {
          s.ctx.trail = ['head']
          s.ctx.user = s.header('x-user')
        },
        async onRequest(s) {
          s.ctx.trail!.push('request')
        },
        onUpstreamRequest(s, req) {
          s.ctx.trail!.push('upstream')
          req.headers.set('x-user-id', `${s.ctx.user}`)
        },
        onResponse(s, res) {
          s.ctx.trail!.push('response')
          res.headers.set('x-trail', s.ctx.trail!.join(','))
        },
        onLog(s) {
          s.ctx.trail!.push('log')
          final = s.ctx
        },
      },
      async (port) => {
        const r = await send(port, '/api/me', { headers: { 'x-user': 'ada' } })
        assert.equal(r.headers['x-trail'], 'head,request,upstream,response')
        assert.equal(saw[0]!.headers['x-user-id'], 'ada')
        await waitFor(() => final !== undefined, 'the log')
        assert.deepEqual(final, { trail: ['head', 'request', 'upstream', 'response', 'log'], user: 'ada' })
        // Each request starts with a fresh ctx.
        final = undefined
        await send(port, '/api/me')
        await waitFor(() => final !== undefined, 'the log')
        assert.equal(final!.user, undefined)
      },
    )
  })
})

describe('onAccept', () => {
  it('closes a refused connection before reading it, and sees who connected', async () => {
    let refuse = true
    const infos: { remoteAddress: string; localPort: number; tls: boolean }[] = []
    let requests = 0
    await withGateway(
      {
        onAccept(info) {
          infos.push(info)
          return !refuse
        },
        onRequestHead() {
          requests++
        },
      },
      async (port, gw) => {
        const sock = net.connect(port, '127.0.0.1')
        sock.on('error', () => {})
        await once(sock, 'connect')
        sock.write('GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n')
        let got = ''
        sock.on('data', (d: Buffer) => (got += d.toString()))
        await once(sock, 'close')
        assert.equal(got, '', 'not a byte answered')
        assert.equal(requests, 0)
        assert.equal(saw.length, 0)
        assert.equal(gw.stats().connections, 0)
        assert.equal(infos[0]!.remoteAddress.replace('::ffff:', ''), '127.0.0.1')
        assert.equal(infos[0]!.localPort, port)
        assert.equal(infos[0]!.tls, false)

        refuse = false
        assert.equal((await send(port, '/api/x')).status, 200)
        assert.equal(infos.length, 2)
      },
    )
  })
})

describe('several hook objects', () => {
  it('run in the order given, each bound to its own object, and the first answer wins', async () => {
    const calls: string[] = []
    class Tracer implements GatewayHooks {
      readonly name: string
      readonly answers: boolean
      constructor(name: string, answers = false) {
        this.name = name
        this.answers = answers
      }
      onRequestHead() {
        calls.push(`${this.name}.head`)
      }
      onRequest(s: Session) {
        calls.push(`${this.name}.request`)
        if (this.answers && s.path === '/api/answered') return respond(202, `answered by ${this.name}`)
        return undefined
      }
      onUpstreamRequest(_s: Session, req: { headers: { append(n: string, v: string): void } }) {
        calls.push(`${this.name}.upstream`)
        req.headers.append('x-chain', this.name)
      }
      onResponse() {
        calls.push(`${this.name}.response`)
      }
      onLog() {
        calls.push(`${this.name}.log`)
      }
    }
    await withGateway([new Tracer('a'), new Tracer('b', true), new Tracer('c')], async (port) => {
      await send(port, '/api/chain')
      await waitFor(() => calls.filter((c) => c.endsWith('.log')).length === 3, 'the logs')
      assert.deepEqual(calls, [
        'a.head',
        'b.head',
        'c.head',
        'a.request',
        'b.request',
        'c.request',
        'a.upstream',
        'b.upstream',
        'c.upstream',
        'a.response',
        'b.response',
        'c.response',
        'a.log',
        'b.log',
        'c.log',
      ])
      assert.equal(saw[0]!.headers['x-chain'], 'a, b, c')

      calls.length = 0
      const r = await send(port, '/api/answered')
      assert.equal(r.status, 202)
      assert.equal(r.body, 'answered by b')
      await waitFor(() => calls.filter((c) => c.endsWith('.log')).length === 3, 'the logs')
      assert.deepEqual(calls, [
        'a.head',
        'b.head',
        'c.head',
        'a.request',
        'b.request',
        'a.log',
        'b.log',
        'c.log',
      ])
    })
  })
})
