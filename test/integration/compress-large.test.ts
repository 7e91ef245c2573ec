/**
 * Compression of large bodies through the real `portcullis start` process:
 * a 256 MiB response is compressed as it streams, a client that stops
 * reading stops the origin (backpressure through the compressor), and the
 * gateway's memory, sampled from /proc, stays flat whatever the coding.
 *
 * The body is random base64 text: it compresses only to about 75%, so a
 * gateway that buffered the compressed output would grow by ~48 MiB. The
 * baseline is taken after warm-up transfers: before them the heap grows by
 * 30–60 MiB on the first large transfers, identity ones included (measured).
 * Prints throughput and peak RSS growth per coding.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import zlib from 'node:zlib'
import { zstdAvailable } from '../../src/modules/compress/encoders.ts'
import { type OriginHandle, startOrigin } from '../helpers/gateway.ts'
import { PORTCULLIS_NODE_FLAGS } from '../../src/cli/node-flags.ts'

const BIN = fileURLToPath(new URL('../../bin/portcullis.ts', import.meta.url))
const MiB = 1024 ** 2
const SIZE = 256 * MiB
/**
 * Garbage not yet collected moves RSS by a few tens of MiB when the machine is
 * busy (measured: 0–18 MiB alone, up to 42 MiB under the full suite in CI),
 * and does not grow with the body (the same for 128 and 256 MiB). A gateway
 * that buffered the body would grow by at least the 192 MiB it sends.
 */
const RSS_BUDGET = 96 * MiB
const skip = existsSync('/proc/self/status') ? false : 'needs /proc to sample the gateway’s memory'

/** Bytes the origin has written to the current response, and their hash. */
let written = 0
let sent = createHash('sha256')

/** The origin writes `?size=N` bytes of random base64 text with backpressure. */
function serveText(req: http.IncomingMessage, res: http.ServerResponse): void {
  const size = Number(new URL(req.url!, 'http://x').searchParams.get('size'))
  written = 0
  sent = createHash('sha256')
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': size })
  const pump = () => {
    while (written < size) {
      const chunk = Buffer.from(randomBytes(48 * 1024).toString('base64')).subarray(0, size - written)
      sent.update(chunk)
      written += chunk.length
      if (!res.write(chunk)) return void res.once('drain', pump)
    }
    res.end()
  }
  pump()
}

const decoders = {
  identity: () => new PassThrough(),
  gzip: () => zlib.createGunzip(),
  br: () => zlib.createBrotliDecompress(),
  zstd: () => zlib.createZstdDecompress(),
}
type Coding = keyof typeof decoders

let origin: OriginHandle
let dir: string
let gateway: ChildProcess
let gatewayUrl: string
let stderr = ''

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error('no VmRSS')
  return Number(m[1]) * 1024
}

before(async () => {
  if (skip) return
  origin = await startOrigin(serveText)
  origin.server.requestTimeout = 0
  dir = await mkdtemp(join(tmpdir(), 'portcullis-compress-'))
  const file = join(dir, 'gateway.yaml')
  await writeFile(
    file,
    `listen: [{ address: 127.0.0.1:0 }]
upstreams: { origin: { targets: [{ url: "${origin.url}" }] } }
routes: [{ upstream: origin }]
compression: { enabled: true }
`,
  )
  gateway = spawn(process.execPath, [...PORTCULLIS_NODE_FLAGS, BIN, 'start', '-c', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  gateway.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const end = Date.now() + 10_000
  let m: RegExpExecArray | null = null
  while ((m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)) === null) {
    if (Date.now() > end || gateway.exitCode !== null) throw new Error(`gateway did not start:\n${stderr}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  gatewayUrl = m[1]!
})

after(async () => {
  if (skip) return
  if (gateway && gateway.exitCode === null) {
    const exited = new Promise((r) => gateway.once('exit', r))
    gateway.kill('SIGTERM')
    const t = setTimeout(() => gateway.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }
  await origin?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

interface Download {
  res: http.IncomingMessage
  /** Starts reading (and decoding) the body. */
  start(): void
  /** Resolves with the decoded body's hash and the encoded byte count once it ended. */
  done: Promise<{ hash: string; encoded: number }>
}

/** download GETs `size` bytes with `Accept-Encoding: coding`, decoding as it goes; paused until resumed. */
async function download(coding: Coding, size: number): Promise<Download> {
  const req = http.get(`${gatewayUrl}/?size=${size}`, {
    headers: { 'Accept-Encoding': coding },
    agent: false,
  })
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve)
    req.once('error', reject)
  })
  res.pause()
  const hash = createHash('sha256')
  let encoded = 0
  const decoder = decoders[coding]()
  res.on('data', (d: Buffer) => (encoded += d.length))
  decoder.on('data', (d: Buffer) => hash.update(d))
  const done = new Promise<{ hash: string; encoded: number }>((resolve, reject) => {
    decoder.once('end', () => resolve({ hash: hash.digest('hex'), encoded }))
    decoder.once('error', reject)
    res.once('error', reject)
  })
  return { res, start: () => res.pipe(decoder), done }
}

describe(`${SIZE / MiB} MiB compressed through a gateway process`, { skip, timeout: 120_000 }, () => {
  let baseline = 0

  it('warms up', async () => {
    // The heap settles after a few large transfers whatever the coding (identity included).
    for (const coding of ['identity', 'gzip', 'br', 'zstd'] as const) {
      if (coding === 'zstd' && !zstdAvailable) continue
      const d = await download(coding, coding === 'identity' ? SIZE : 16 * MiB)
      d.start()
      await d.done
    }
    await new Promise((r) => setTimeout(r, 300))
    baseline = rssOf(gateway.pid!)
  })

  it('stops the origin while the client does not read', async () => {
    const d = await download('gzip', SIZE)
    assert.equal(d.res.headers['content-encoding'], 'gzip')
    assert.equal(d.res.headers['transfer-encoding'], 'chunked')
    await waitStable(() => written)
    const stalledAt = written
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(written, stalledAt, 'the origin is held back')
    assert.ok(
      stalledAt < SIZE / 2,
      `origin wrote ${(stalledAt / MiB).toFixed(1)} MiB of ${SIZE / MiB} before stalling`,
    )
    d.start()
    const { hash } = await d.done
    assert.equal(hash, sent.digest('hex'), 'every byte arrived after resuming')
    console.log(`paused client: origin stalled after ${(stalledAt / MiB).toFixed(1)} MiB (socket buffers)`)
  })

  for (const coding of ['gzip', 'br', 'zstd'] as const) {
    const noZstd = coding === 'zstd' && !zstdAvailable && 'this Node has no zstd'
    it(`streams ${SIZE / MiB} MiB as ${coding} in flat memory`, { skip: noZstd }, async () => {
      let peak = rssOf(gateway.pid!)
      const sampler = setInterval(() => (peak = Math.max(peak, rssOf(gateway.pid!))), 50)
      const t0 = performance.now()
      const d = await download(coding, SIZE)
      d.start()
      const { hash, encoded } = await d.done.finally(() => clearInterval(sampler))
      const seconds = (performance.now() - t0) / 1000
      assert.equal(d.res.headers['content-encoding'], coding)
      assert.equal(hash, sent.digest('hex'), 'the decoded body is the origin’s')
      const growth = peak - baseline
      console.log(
        `${coding.padEnd(4)} ${SIZE / MiB} MiB → ${(encoded / MiB).toFixed(1)} MiB in ${seconds.toFixed(2)} s ` +
          `(${(SIZE / MiB / seconds).toFixed(0)} MiB/s); gateway peak RSS growth ${(growth / MiB).toFixed(1)} MiB`,
      )
      assert.ok(growth <= RSS_BUDGET, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`)
    })
  }
})

/** waitStable resolves once `value()` stopped changing for 200 ms. */
async function waitStable(value: () => number): Promise<void> {
  let last = -1
  while (value() !== last) {
    last = value()
    await new Promise((r) => setTimeout(r, 200))
  }
}
