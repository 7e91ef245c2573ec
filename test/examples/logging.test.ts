/**
 * examples/logging.yaml does what its comments say: a request's access log
 * line lands in logs/access.log, and a refused upstream is in logs/error.log
 * with its cause and the request id the client got.
 */
import assert from 'node:assert/strict'
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import { createGateway } from '../../src/server/gateway.ts'

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode!, body }))
      })
      .on('error', reject)
  })
}

it('examples/logging.yaml: access log lines and error causes in the files it names', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-logging-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  copyFileSync(join(import.meta.dirname, '..', '..', 'examples', 'logging.yaml'), join(dir, 'logging.yaml'))
  const origin = http.createServer((_req, res) => res.end('hello'))
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
  t.after(() => origin.close())
  const originPort = String((origin.address() as AddressInfo).port)
  const loaded = await loadConfig(join(dir, 'logging.yaml'), { DEMO_ORIGIN_PORT: originPort })
  assert.ok(loaded.ok)
  assert.equal(loaded.config.log.file, join(dir, 'logs', 'error.log'), 'relative to the file')
  const gw = await createGateway({ ...loaded.config, listen: [{ address: { host: '127.0.0.1', port: 0 } }] })
  await gw.listen()
  const port = gw.addresses()[0]!.port
  assert.equal((await get(port, '/app/')).status, 200)
  const down = await get(port, '/down/')
  assert.equal(down.status, 502)
  await gw.close()
  const requestId = /request-id: (\S+)/.exec(down.body)![1]
  const access = readFileSync(join(dir, 'logs', 'access.log'), 'utf8')
    .trim()
    .split('\n')
  assert.deepEqual(
    access.map((l) => (JSON.parse(l) as { path: string }).path),
    ['/app/', '/down/'],
  )
  const errors = readFileSync(join(dir, 'logs', 'error.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  const refused = errors.find((e) => e.code === 'UPSTREAM_CONNECT_REFUSED')
  assert.ok(refused, JSON.stringify(errors))
  assert.equal(refused.cause, 'connect ECONNREFUSED 127.0.0.1:9')
  assert.equal(refused.requestId, requestId)
})
