/**
 * `forward.har`: the forward proxy's traffic written as a HAR file every
 * `interval` while the gateway runs and when it stops, not the reverse
 * routes of the same process; a reload to another path writes the old file
 * and records into the new one; a relative path is the config file's.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadConfig, validateConfig } from '../../src/config/load.ts'
import { curl } from '../helpers/forward.ts'
import { proxyConfig, startGateway, startOrigin } from '../helpers/gateway.ts'
import { assertHar12 } from '../helpers/har.ts'

/** until polls the async `check` every 20 ms for up to `ms`. */
async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20)))
    if (await check()) return true
  return false
}

/** urls: the request URLs in the HAR file at `path`, or none while it is not written. */
async function urls(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch(() => undefined)
  return text === undefined ? [] : assertHar12(JSON.parse(text)).map((e) => e.request.url)
}

test('forward.har: written while running and on close, forward traffic only; a reload moves it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-har-file-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const origin = await startOrigin(undefined, { t })
  const first = join(dir, 'first.har')
  const second = join(dir, 'second.har')
  const input = (path: string) =>
    proxyConfig(origin.url, {
      forward: { address: '127.0.0.1:0', allow: ['127.0.0.1'], har: { path, interval: 50 } },
    })
  const gw = await startGateway(input(first), { t })
  const proxy = `http://127.0.0.1:${gw.gw.addresses().find((a) => a.forward)!.port}`

  assert.equal((await curl(['-x', proxy, `${origin.url}/via-proxy`])).stdout, 'ok')
  assert.equal((await curl([`${gw.url}/reverse`])).stdout, 'ok')
  // Written by the timer, the gateway still running.
  assert.ok(await until(async () => (await urls(first)).length > 0, 3000))
  await new Promise((r) => setTimeout(r, 150))
  assert.deepEqual(await urls(first), [`${origin.url}/via-proxy`], 'the reverse route is not recorded')

  const next = validateConfig(input(second))
  assert.ok(next.ok)
  await gw.gw.reload(next.config)
  assert.equal((await curl(['-x', proxy, `${origin.url}/after-reload`])).stdout, 'ok')
  await gw.close()
  assert.deepEqual(await urls(first), [`${origin.url}/via-proxy`])
  assert.deepEqual(await urls(second), [`${origin.url}/after-reload`])
})

test("forward.har: a relative path is the configuration file's; a bad key is reported with its place", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-har-config-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'gateway.yaml')
  await writeFile(file, 'listen: []\nforward:\n  address: 127.0.0.1:0\n  har:\n    path: capture.har\n')
  const loaded = await loadConfig(file)
  assert.ok(loaded.ok)
  assert.equal(loaded.config.forward?.har?.path, join(dir, 'capture.har'))
  assert.equal(loaded.config.forward?.har?.interval, 10_000)

  await writeFile(
    file,
    'listen: []\nforward:\n  address: 127.0.0.1:0\n  har:\n    path: capture.har\n    every: 5s\n',
  )
  const bad = await loadConfig(file)
  assert.ok(!bad.ok)
  assert.match(
    bad.problems.map((p) => `${p.line}:${p.col} ${p.path}: ${p.message}`).join('\n'),
    /^6:5 forward\.har\.every: unknown key 'every'$/m,
  )
})

test('forward.har.redact replaces the redacted list; unset, credentials are redacted', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-har-redact-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const origin = await startOrigin(undefined, { t })
  /** The request header values recorded for one request sent with `X-Secret` and `Authorization`. */
  const recorded = async (name: string, redact?: string[]) => {
    const path = join(dir, `${name}.har`)
    const gw = await startGateway(
      proxyConfig(origin.url, {
        forward: { address: '127.0.0.1:0', allow: ['127.0.0.1'], har: { path, interval: 0, redact } },
      }),
      { t },
    )
    const proxy = `http://127.0.0.1:${gw.gw.addresses().find((a) => a.forward)!.port}`
    const headers = ['-H', 'X-Secret: s3', '-H', 'Authorization: Bearer t0k']
    assert.equal((await curl(['-x', proxy, ...headers, `${origin.url}/r`])).stdout, 'ok')
    await gw.close()
    const [entry] = assertHar12(JSON.parse(await readFile(path, 'utf8')))
    const value = (n: string) => entry!.request.headers.find((h) => h.name.toLowerCase() === n)?.value
    return [value('x-secret'), value('authorization')]
  }
  assert.deepEqual(await recorded('default'), ['s3', '[redacted]'])
  assert.deepEqual(await recorded('named', ['X-Secret']), ['[redacted]', 'Bearer t0k'])
  assert.deepEqual(await recorded('none', []), ['s3', 'Bearer t0k'])
})
