/**
 * The dashboard in a real browser: headless Chromium (Debian's, driven by
 * playwright-core) opens /dashboard on the admin listener while the test
 * sends bounded traffic (reverse-proxied 200s and 500s, and forward-proxy
 * requests), then checks that the charts drew that traffic, the request
 * list shows it and filters it, and that a click opens a request's headers
 * with the credentials redacted; and once more traffic made the gateway drop
 * that request's details (it keeps its last 500), the same row still opens,
 * with what the list has and "no longer kept". A screenshot goes to test/output/
 * (PORTCULLIS_TEST_OUTPUT overrides; not committed). Skipped when
 * /usr/bin/chromium is missing (.ci/run installs it).
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { createGateway, type Gateway } from '../../src/server/gateway.ts'

const CHROMIUM = '/usr/bin/chromium'
const skip = !existsSync(CHROMIUM) && 'needs /usr/bin/chromium'
const OUTPUT = process.env.PORTCULLIS_TEST_OUTPUT ?? join(import.meta.dirname, '..', 'output')
const SECRET = 'Bearer dashboard-secret-token'

// Predicates run in the page (functions, serialized, so no closures; not strings:
// the page's CSP forbids eval). The tests' tsconfig has no DOM types, so the
// page's document is reached untyped.
type Dom = any

async function startOrigin(t: TestContext): Promise<number> {
  const server = http.createServer((req, res) => {
    req.resume()
    res.statusCode = req.url?.startsWith('/fail') ? 500 : 200
    res.end('x'.repeat(req.url?.startsWith('/big') ? 4096 : 16))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return (server.address() as AddressInfo).port
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', () => resolve(0))
  })
}

/**
 * Traffic runs `workers` loops of requests until stop() or `max` requests in
 * all: 9 in 10 reverse GETs (1 in 10 to /fail), 1 in 20 through the forward
 * proxy (absolute-form). Bounded in count, whatever the machine's speed.
 */
function traffic(gw: Gateway, originPort: number, max: number) {
  const reverse = gw.addresses().find((a) => !a.forward)!.port
  const forward = gw.addresses().find((a) => a.forward)!.port
  let sent = 0
  let stopped = false
  const loop = async () => {
    while (!stopped && sent < max) {
      const n = sent++
      if (n % 20 === 7) await get(forward, `http://127.0.0.1:${originPort}/via-forward/${n}`)
      else if (n % 10 === 3) await get(reverse, `/fail/${n}`, { authorization: SECRET })
      else await get(reverse, `/ok/${n}?token=hidden`, { authorization: SECRET, cookie: 'session=abc' })
    }
  }
  const done = Promise.all([loop(), loop(), loop(), loop()])
  return {
    sent: () => sent,
    stop: async () => {
      stopped = true
      await done
    },
  }
}

test('the dashboard shows live traffic, filters requests and opens one', { skip }, async (t) => {
  const originPort = await startOrigin(t)
  const gw = await createGateway({
    listen: [{ address: '127.0.0.1:0' }],
    admin: { address: '127.0.0.1:0' },
    forward: { address: '127.0.0.1:0', allow: ['127.0.0.1'] },
    upstreams: { app: { targets: [{ url: `http://127.0.0.1:${originPort}` }] } },
    routes: [{ name: 'app', upstream: 'app' }],
  })
  await gw.listen()
  t.after(() => gw.close({ drainTimeout: 1000 }))
  const admin = gw.admin!.server!.address()
  const load = traffic(gw, originPort, 20_000)
  t.after(() => load.stop())

  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath: CHROMIUM, timeout: 30_000 })
  t.after(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1440, height: 1400 } })
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(`http://127.0.0.1:${admin.port}/dashboard`, { timeout: 20_000 })
  await page.waitForSelector('#status.on', { timeout: 45_000 })

  // Two ticks with traffic make a line: the request-rate and latency charts drew points above zero.
  await page.waitForFunction(
    () => {
      const c = (id: string) => (globalThis as Dom).document.getElementById(id).dataset
      return (
        Number(c('chart-rps').points) >= 4 &&
        Number(c('chart-rps').max) > 0 &&
        Number(c('chart-latency').max) > 0
      )
    },
    undefined,
    { timeout: 30_000 },
  )
  assert.notEqual(await page.textContent('#tile-rps'), '–')
  assert.match((await page.textContent('#tile-latency')) ?? '', /\d.* \/ .*\d.* \/ .*\d/)
  assert.equal(await page.textContent('#tile-workers'), '1')
  // The error-rate chart saw the /fail answers, the target table the upstream.
  await page.waitForFunction(
    () => Number((globalThis as Dom).document.getElementById('chart-errors').dataset.max) > 0,
    undefined,
    {
      timeout: 30_000,
    },
  )
  const targets = await page.locator('#targets tbody tr').allTextContents()
  assert.ok(
    targets.some((r) => r.includes(`127.0.0.1:${originPort}`) && r.includes('up')),
    targets.join('\n'),
  )

  // The request list: reverse and forward doors, then filtered.
  await page.waitForFunction(
    () => (globalThis as Dom).document.querySelectorAll('#requests tbody tr').length >= 20,
    undefined,
    {
      timeout: 30_000,
    },
  )
  const rows = await page.locator('#requests tbody tr').allTextContents()
  assert.ok(
    rows.some((r) => r.includes('/ok/')),
    'reverse requests listed',
  )
  assert.ok(!rows.some((r) => r.includes('token=hidden')), 'queries are not shown')
  await page.fill('#filter', '/fail')
  const failed = await page.locator('#requests tbody tr').allTextContents()
  assert.ok(failed.length > 0)
  assert.ok(
    failed.every((r) => r.includes('/fail/') && r.includes('500')),
    failed.join('\n'),
  )
  await page.fill('#filter', '')
  await page.waitForFunction(
    () =>
      [...(globalThis as Dom).document.querySelectorAll('#requests tbody tr')].some((r: Dom) =>
        r.textContent.includes('forward'),
      ),
    undefined,
    { timeout: 30_000 },
  )
  await page.selectOption('#source', 'forward')
  const forwarded = await page.locator('#requests tbody tr').allTextContents()
  assert.ok(
    forwarded.length > 0 && forwarded.every((r) => r.includes('forward') && r.includes('/via-forward/')),
  )
  await page.selectOption('#source', '')

  // One request opened: its fields and headers, credentials redacted. The traffic stops first: the
  // gateway keeps the details of its last 500 requests only, and under load a row shown on a paused
  // page can be older than those (the click then finds nothing to open).
  await load.stop()
  await page.fill('#filter', '/ok/')
  await page.waitForFunction(
    () => (globalThis as Dom).document.querySelectorAll('#requests tbody tr').length > 0,
    undefined,
    { timeout: 10_000 },
  )
  await page.check('#paused')
  await page.locator('#requests tbody tr').first().click()
  await page.waitForSelector('#detail[open]', { timeout: 10_000 })
  const detail = (await page.textContent('#detail')) ?? ''
  assert.match(detail, /request id/)
  assert.match(detail, /authorization\s*\[redacted\]/i)
  assert.match(detail, /cookie\s*\[redacted\]/i)
  assert.ok(!detail.includes('dashboard-secret-token') && !detail.includes('session=abc'))
  mkdirSync(OUTPUT, { recursive: true })
  await page.screenshot({ path: join(OUTPUT, 'dashboard-request.png') })
  await page.keyboard.press('Escape')

  // The same row once the gateway no longer keeps its details (its last 500): the paused page still
  // lists it; more traffic until the API says 404 for it; then it opens with what the list has.
  const first = page.locator('#requests tbody tr').first()
  const key = (await first.getAttribute('data-key'))!
  const api = `http://127.0.0.1:${admin.port}/dashboard/api/requests/${encodeURIComponent(key)}`
  const { requestId } = (await (await fetch(api)).json()) as { requestId: string }
  const more = traffic(gw, originPort, 20_000)
  for (let i = 0; (await fetch(api)).status === 200; i++) {
    assert.ok(i < 600, 'the details of the row are dropped within a minute of traffic')
    await new Promise((r) => setTimeout(r, 100))
  }
  await more.stop()
  assert.equal((await fetch(api)).status, 404)
  await first.click()
  await page.waitForSelector('#detail[open]', { timeout: 10_000 })
  const fallback = (await page.textContent('#detail')) ?? ''
  assert.match(fallback, /no longer kept by the gateway/)
  assert.match(fallback, /request id/)
  assert.ok(fallback.includes(requestId), 'the request id the list has shows')
  assert.match((await page.textContent('#detail-title')) ?? '', /^GET .*\/ok\/\d+ → 200$/)
  await page.screenshot({ path: join(OUTPUT, 'dashboard-request-gone.png') })
  await page.keyboard.press('Escape')
  await page.uncheck('#paused')
  await page.fill('#filter', '')
  await page.screenshot({ path: join(OUTPUT, 'dashboard.png') })
  assert.deepEqual(errors, [], 'no script errors on the page')
  assert.ok(load.sent() > 0)
})

test(
  'with an admin token, the page asks for it and streams only once given the right one',
  { skip },
  async (t) => {
    const token = 'dashboard-test-token-0123456789'
    const gw = await createGateway({
      listen: [{ address: '127.0.0.1:0' }],
      admin: { address: '127.0.0.1:0', token },
      routes: [{ name: 'hello', respond: { body: 'hi' } }],
    })
    await gw.listen()
    t.after(() => gw.close({ drainTimeout: 1000 }))
    const admin = `http://127.0.0.1:${gw.admin!.server!.address().port}`
    // The stream and the request details need the token; the page itself holds no data.
    assert.equal((await fetch(`${admin}/dashboard/api/events`)).status, 401)
    assert.equal((await fetch(`${admin}/dashboard/api/requests/1:1`)).status, 401)
    const page = await fetch(`${admin}/dashboard`)
    assert.equal(page.status, 200)
    assert.ok(!(await page.text()).includes(token))

    const { chromium } = await import('playwright-core')
    const browser = await chromium.launch({ executablePath: CHROMIUM, timeout: 30_000 })
    t.after(() => browser.close())
    const tab = await browser.newPage()
    await tab.goto(`${admin}/dashboard`, { timeout: 20_000 })
    await tab.waitForSelector('#token-form:not([hidden])', { timeout: 20_000 })
    assert.equal(await tab.textContent('#status'), 'token needed')
    await tab.fill('#token', 'wrong-token-wrong-token')
    await tab.click('#token-form button')
    await tab.waitForFunction(
      () => (globalThis as Dom).document.getElementById('status').textContent === 'token needed',
      undefined,
      {
        timeout: 20_000,
      },
    )
    await tab.fill('#token', token)
    await tab.click('#token-form button')
    await tab.waitForSelector('#status.on', { timeout: 45_000 })
    assert.equal(await tab.isHidden('#token-form'), true)
  },
)
