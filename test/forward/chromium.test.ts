/**
 * Headless Chromium (Debian's `chromium`, driven by playwright-core) through
 * the forward proxy: the local CA trusted in a throwaway NSS database (never
 * `ignoreHTTPSErrors`), an HTTPS page intercepted and rewritten by a hook,
 * a WebSocket round trip from the page, and the SSRF defaults refusing a
 * loopback destination. Skipped when chromium or certutil is missing
 * (.ci/run installs them).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import https from 'node:https'
import type net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import type { Session } from '../../src/core/session.ts'
import { createCa } from '../../src/forward/mitm/ca.ts'
import { hasOpenssl, makeSelfSigned } from '../fixtures/self-signed.ts'
import { startForward, waitFor } from '../helpers/forward.ts'

const run = promisify(execFile)
const CHROMIUM = '/usr/bin/chromium'
const skip =
  (!existsSync(CHROMIUM) && 'needs /usr/bin/chromium') ||
  (!existsSync('/usr/bin/certutil') && 'needs certutil (libnss3-tools)') ||
  (!(await hasOpenssl()) && 'needs openssl')

const PAGE = `<!doctype html><title>origin page</title><p id="p">from the origin</p>
<script>
  const ws = new WebSocket('wss://' + location.host + '/ws')
  ws.onopen = () => ws.send('ping')
  ws.onmessage = (m) => { document.title = 'ws:' + m.data }
</script>`

test(
  'chromium loads an intercepted HTTPS page, its WebSocket works, loopback is refused',
  { skip },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-chromium-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const caDir = join(dir, 'ca')
    await createCa(caDir)
    // A throwaway HOME whose NSS database trusts the CA: what Chromium on Linux reads.
    const home = join(dir, 'home')
    const nss = `sql:${join(home, '.pki', 'nssdb')}`
    await mkdir(join(home, '.pki', 'nssdb'), { recursive: true })
    await run('certutil', ['-N', '-d', nss, '--empty-password'])
    await run('certutil', [
      '-d',
      nss,
      '-A',
      '-t',
      'C,,',
      '-n',
      'portcullis-test',
      '-i',
      join(caDir, 'ca.pem'),
    ])

    const cert = await makeSelfSigned(dir)
    const origin = https.createServer({ cert: cert.cert, key: cert.key }, (_req, res) => {
      res.setHeader('content-type', 'text/html')
      res.end(PAGE)
    })
    const { WebSocketServer } = await import('ws')
    const wss = new WebSocketServer({ server: origin })
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`pong after ${m.toString()}`)))
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
    t.after(
      () =>
        new Promise<void>((r) => {
          for (const c of wss.clients) c.terminate()
          origin.closeAllConnections()
          origin.close(() => r())
        }),
    )
    const port = (origin.address() as net.AddressInfo).port

    const logged: Session[] = []
    const fwd = await startForward(
      { allow: ['127.0.0.1'], mitm: { caDir, hosts: ['localhost'], upstreamCa: cert.certPath } },
      {
        t,
        hooks: {
          onResponse: (session, res) => {
            if (session.source === 'mitm') res.headers.set('x-intercepted', 'yes')
          },
          onLog: (session) => void logged.push(session),
        },
      },
    )
    const { chromium } = await import('playwright-core')
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      env: { ...process.env, HOME: home },
      // <-loopback>: Chromium otherwise never proxies localhost.
      args: [`--proxy-server=${fwd.proxy}`, '--proxy-bypass-list=<-loopback>'],
      timeout: 20_000,
    })
    t.after(() => browser.close())
    const page = await browser.newPage()
    const res = await page.goto(`https://localhost:${port}/`, { timeout: 10_000 })
    assert.equal(res?.status(), 200)
    assert.equal(res?.headers()['x-intercepted'], 'yes')
    assert.equal(await page.textContent('#p'), 'from the origin')
    await page.waitForFunction("document.title.startsWith('ws:')", undefined, { timeout: 5000 })
    assert.equal(await page.title(), 'ws:pong after ping')
    // Loopback by another address than the allowed one: the proxy refuses it.
    const refused = await page.goto(`http://[::1]:${port}/`, { timeout: 10_000 })
    assert.equal(refused?.status(), 403)
    assert.match((await refused?.text()) ?? '', /DESTINATION_FORBIDDEN/)
    assert.ok(await waitFor(() => logged.some((s) => s.source === 'mitm' && s.status === 101)))
  },
)
