/**
 * The quick proxy's tuning flags, each over real sockets through the real
 * `portcullis proxy` process: --max-body (and the default: no limit, a
 * 200 MB upload streams through), --timeout, --connect-timeout,
 * --upstream-ca, --insecure, --tls-cert/--tls-key.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import {
  type AddressInfo,
  createServer as createTcpServer,
  type Server as TcpServer,
  type Socket,
} from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hasOpenssl, makeSelfSigned, type SelfSigned } from '../fixtures/self-signed.ts'
import { type RunningCli, runCli, startCli, withTempDir } from './run-cli.ts'

const LISTENING = /portcullis listening on (https?:\/\/127\.0\.0\.1:\d+)\n/
const MiB = 1024 ** 2
const skipTls = (await hasOpenssl()) ? false : 'needs openssl to make a certificate'

interface Reply {
  status: number
  body: string
}

/** The origin: counts the bytes of a request body; /hang never answers. */
function countingHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.url === '/hang') return
  let bytes = 0
  req.on('data', (d: Buffer) => (bytes += d.length))
  req.on('end', () => res.end(`${req.method} ${req.url} ${bytes}`))
}

function listen<S extends http.Server | TcpServer>(server: S): Promise<S> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

function urlOf(server: http.Server | TcpServer, scheme: string): string {
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/**
 * request sends `size` bytes (a reused 64 KiB buffer, written with
 * backpressure: never held whole) and resolves with the response. A write
 * the gateway refuses (413 before the body) may fail; the response decides.
 */
function request(url: string, size = 0, ca?: string): Promise<Reply> {
  const u = new URL(url)
  const client = u.protocol === 'https:' ? https : http
  const chunk = Buffer.alloc(64 * 1024, 'x')
  return new Promise((resolve, reject) => {
    const req = client.request(u, {
      method: size > 0 ? 'POST' : 'GET',
      ca,
      headers: { 'content-length': size },
    })
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
      res.on('error', reject)
    })
    req.on('error', (err) => (req.writableFinished || size === 0 ? reject(err) : undefined))
    let sent = 0
    function write(): void {
      while (sent < size && !req.destroyed) {
        const n = Math.min(chunk.length, size - sent)
        sent += n
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n)))
          return void req.once('drain', write)
      }
      req.end()
    }
    write()
  })
}

async function stop(cli: RunningCli): Promise<void> {
  cli.child.kill('SIGTERM')
  assert.equal(await cli.exited, 0, cli.stderr())
}

async function proxy(args: string[]): Promise<{ cli: RunningCli; url: string }> {
  const cli = startCli(['proxy', '--from', '127.0.0.1:0', ...args])
  const [, url] = await cli.waitForStderr(LISTENING, 0, 30_000)
  return { cli, url: url! }
}

describe('portcullis proxy flags', { timeout: 300_000 }, () => {
  let origin: http.Server
  let originUrl: string

  before(async () => {
    origin = await listen(http.createServer(countingHandler))
    originUrl = urlOf(origin, 'http')
  })
  after(() => origin.close())

  it('has no body limit by default: a 200 MB upload streams through', async () => {
    const { cli, url } = await proxy(['--to', originUrl])
    try {
      assert.deepEqual(await request(`${url}/upload`, 200 * MiB), {
        status: 200,
        body: `POST /upload ${200 * MiB}`,
      })
    } finally {
      await stop(cli)
    }
  })

  it(
    '--max-body answers 413 over the size; --timeout answers 504 when the target is slow; --tls-cert/--tls-key serve HTTPS',
    {
      skip: skipTls,
    },
    async () => {
      await withTempDir(async (dir) => {
        const cert = await makeSelfSigned(dir)
        const { cli, url } = await proxy([
          '--to',
          originUrl,
          '--max-body',
          '1mb',
          '--timeout',
          '300ms',
          '--tls-cert',
          cert.certPath,
          '--tls-key',
          cert.keyPath,
        ])
        try {
          assert.match(url, /^https:\/\//)
          assert.deepEqual(await request(`${url}/small`, MiB, cert.cert), {
            status: 200,
            body: `POST /small ${MiB}`,
          })
          const big = await request(`${url}/big`, 2 * MiB, cert.cert)
          assert.equal(big.status, 413)
          assert.match(big.body, /BODY_TOO_LARGE/)
          const slow = await request(`${url}/hang`, 0, cert.cert)
          assert.equal(slow.status, 504)
          assert.match(slow.body, /UPSTREAM_RESPONSE_TIMEOUT/)
        } finally {
          await stop(cli)
        }
      })
    },
  )

  describe('an https:// target with a self-signed certificate', { skip: skipTls }, () => {
    let tlsOrigin: https.Server
    let target: string
    let cert: SelfSigned
    let dir: string

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'portcullis-proxy-tls-'))
      cert = await makeSelfSigned(dir)
      tlsOrigin = await listen(https.createServer({ cert: cert.cert, key: cert.key }, countingHandler))
      target = urlOf(tlsOrigin, 'https')
    })
    after(async () => {
      tlsOrigin?.close()
      if (dir) await rm(dir, { recursive: true, force: true })
    })

    it('is refused (502) unless trusted', async () => {
      const { cli, url } = await proxy(['--to', target])
      try {
        const r = await request(`${url}/x`)
        assert.equal(r.status, 502)
      } finally {
        await stop(cli)
      }
    })

    it('--upstream-ca FILE trusts it', async () => {
      const { cli, url } = await proxy(['--to', target, '--upstream-ca', cert.certPath])
      try {
        assert.deepEqual(await request(`${url}/trusted`), { status: 200, body: 'GET /trusted 0' })
        assert.doesNotMatch(cli.stderr(), /warning/)
      } finally {
        await stop(cli)
      }
    })

    it('--insecure skips verification and warns on stderr', async () => {
      const { cli, url } = await proxy(['--to', target, '--insecure'])
      try {
        assert.deepEqual(await request(`${url}/unverified`), { status: 200, body: 'GET /unverified 0' })
        assert.match(cli.stderr(), /warning: --insecure: certificates of https:\/\/ targets are NOT verified/)
      } finally {
        await stop(cli)
      }
    })
  })

  it('--connect-timeout answers 504 when connecting (TCP and TLS) takes too long', async () => {
    // Accepts TCP and never answers the TLS ClientHello: the connection is never established.
    const sockets = new Set<Socket>()
    const silent = await listen(createTcpServer((s) => sockets.add(s.on('error', () => {}))))
    const { cli, url } = await proxy(['--to', urlOf(silent, 'https'), '--connect-timeout', '300ms'])
    try {
      const r = await request(`${url}/x`)
      assert.equal(r.status, 504)
      assert.match(r.body, /UPSTREAM_CONNECT_TIMEOUT/)
    } finally {
      await stop(cli)
      for (const s of sockets) s.destroy()
      silent.close()
    }
  })

  it('names the flag of a wrong value and exits 1', async () => {
    const bad = await runCli([
      'proxy',
      '--to',
      originUrl,
      '--max-body',
      'lots',
      '--timeout',
      'soon',
      '--upstream-ca',
      '/nonexistent/ca.pem',
    ])
    assert.equal(bad.code, 1)
    assert.deepEqual(bad.stderr.split('\n').filter(Boolean), [
      'portcullis proxy: --max-body lots: invalid size "lots" (use e.g. 64kb, 10mb)',
      'portcullis proxy: --timeout soon: invalid duration "soon" (use e.g. 250ms, 5s, 2m)',
      'portcullis proxy: --upstream-ca /nonexistent/ca.pem: cannot read /nonexistent/ca.pem (ENOENT)',
    ])
    const half = await runCli(['proxy', '--to', originUrl, '--tls-cert', 'cert.pem'])
    assert.equal(half.code, 1)
    assert.match(half.stderr, /^portcullis proxy: --tls-cert and --tls-key go together\n/)
  })
})
