/**
 * concurrency over real sockets against an origin that holds its answers:
 * `max` requests reach the origin, `queue` more wait and go on in order as
 * slots free, the rest get 503 at once, a waiter past queueTimeout gets 503,
 * and a client that leaves mid-request gives its slot back.
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import net from 'node:net'
import { describe, it } from 'node:test'
import { proxyConfig, startGateway, startOrigin, waitFor } from '../../../test/helpers/gateway.ts'
import { get } from '../../../test/helpers/http-get.ts'

describe('concurrency', () => {
  it('admits max, queues up to queue, refuses the rest, and times waiters out', async (t) => {
    const held: http.ServerResponse[] = []
    const origin = await startOrigin((_req, res) => void held.push(res), { t })
    const gw = await startGateway(
      proxyConfig(origin.url, {
        routes: [{ match: {}, upstream: 'origin', concurrency: { max: 2, queue: 1, queueTimeout: '300ms' } }],
      }),
      { t },
    )
    const first = [get(gw.url), get(gw.url)]
    await waitFor(() => held.length === 2, 'two requests at the origin')
    const queued = get(gw.url)
    await new Promise((r) => setTimeout(r, 50))
    const full = await get(gw.url, { accept: 'application/json' })
    assert.equal(full.status, 503)
    assert.equal(full.headers['retry-after'], '1')
    assert.equal(JSON.parse(full.body).error.code, 'CONCURRENCY_LIMITED')
    assert.equal(held.length, 2)
    held[0]!.end('one')
    await waitFor(() => held.length === 3, 'the queued request at the origin')
    held[1]!.end('two')
    held[2]!.end('three')
    assert.deepEqual(
      (await Promise.all([...first, queued])).map((r) => r.body),
      ['one', 'two', 'three'],
    )

    const busy = [get(gw.url), get(gw.url)]
    await waitFor(() => held.length === 5, 'two more at the origin')
    const t0 = performance.now()
    const late = await get(gw.url)
    assert.equal(late.status, 503)
    assert.ok(performance.now() - t0 >= 280, 'waited for the queue timeout')
    held[3]!.end('a')
    held[4]!.end('b')
    await Promise.all(busy)
  })

  it('gives a slot back when the client leaves mid-request', async (t) => {
    const held: http.ServerResponse[] = []
    const origin = await startOrigin((_req, res) => void held.push(res), { t })
    const gw = await startGateway(
      proxyConfig(origin.url, { routes: [{ match: {}, upstream: 'origin', concurrency: { max: 1 } }] }),
      { t },
    )
    const socket = net.connect(gw.port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
    await waitFor(() => held.length === 1, 'the first request at the origin')
    assert.equal((await get(gw.url)).status, 503) // the only slot is taken (no queue)
    await waitFor(() => gw.gw.stats().connections === 1, 'the refused connection closed')
    socket.destroy()
    await waitFor(() => gw.gw.stats().connections === 0, 'the client connection closed')
    const next = get(gw.url)
    await waitFor(() => held.length === 2, 'the next request at the origin')
    held[1]!.end('ok')
    assert.equal((await next).status, 200)
  })
})
