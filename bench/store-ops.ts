/**
 * Cost of one store operation (`incr`), per implementation, to choose how
 * the shared store is built (docs/architecture.md, "Shared state"):
 *
 * - memory: an awaited incr on this thread's KeyTable;
 * - shared: a worker thread's SharedStore against a SharedStoreHost on the
 *   main thread (a MessagePort round trip), one at a time and 50 in flight,
 *   one worker and two;
 * - sab: Atomics.add on a SharedArrayBuffer from a worker, alone and with
 *   two workers contending: the floor a SharedArrayBuffer fast path could
 *   reach for a counter, not a store;
 * - redis: RedisStore incr (INCRBY) and incr with a TTL (one EVALSHA) on a
 *   local redis-server this script starts, one at a time and 50 in flight.
 *
 * Bounded: a fixed count of operations per case (OPS, default 100,000).
 * Usage: node bench/store-ops.ts   (prints a table; no arguments)
 */
import { performance } from 'node:perf_hooks'
import { isMainThread, MessageChannel, parentPort, Worker, workerData } from 'node:worker_threads'
import { MemoryStore } from '../src/store/memory.ts'
import { RedisStore } from '../src/store/redis.ts'
import { SharedStore, SharedStoreHost, type MessagePortLike } from '../src/store/shared.ts'
import type { Store } from '../src/store/store.ts'
import { redisServerInstalled, startRedisServer } from '../test/helpers/redis-server.ts'

const OPS = Number(process.env.OPS ?? 100_000)

interface Job {
  mode: 'shared' | 'sab'
  ops: number
  inFlight: number
  port?: MessagePortLike
  sab?: SharedArrayBuffer
}

/** drive runs `ops` increments as `inFlight` concurrent loops; returns elapsed ms. */
async function drive(store: Store, ops: number, inFlight: number, ttlMs?: number): Promise<number> {
  const per = Math.ceil(ops / inFlight)
  const options = ttlMs === undefined ? undefined : { ttlMs }
  const started = performance.now()
  await Promise.all(
    Array.from({ length: inFlight }, async function loop() {
      for (let i = 0; i < per; i++) await store.incr('bench', 1, options)
    }),
  )
  return performance.now() - started
}

async function workerMain(job: Job): Promise<void> {
  if (job.mode === 'sab') {
    const counter = new Int32Array(job.sab!)
    const started = performance.now()
    for (let i = 0; i < job.ops; i++) Atomics.add(counter, 0, 1)
    parentPort!.postMessage(performance.now() - started)
    return
  }
  const store = new SharedStore(job.port!, { timeoutMs: 10_000 })
  await drive(store, Math.min(job.ops, 5000), job.inFlight) // warm-up
  parentPort!.postMessage(await drive(store, job.ops, job.inFlight))
  await store.close()
}

/** inWorkers runs `job` in `count` workers at once; returns the slowest one's ms. */
async function inWorkers(count: number, job: Omit<Job, 'port'>, host?: SharedStoreHost): Promise<number> {
  const runs = Array.from({ length: count }, () => {
    const { port1, port2 } = new MessageChannel()
    host?.attach(port1)
    const w = new Worker(new URL(import.meta.url), {
      workerData: { ...job, port: port2 },
      transferList: [port2],
    })
    return new Promise<number>((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
    }).finally(() => w.terminate())
  })
  return Math.max(...(await Promise.all(runs)))
}

const rows: string[][] = []
function row(name: string, totalOps: number, ms: number): void {
  const us = (ms * 1000) / totalOps
  rows.push([name, Math.round((totalOps / ms) * 1000).toLocaleString('en'), us.toFixed(3)])
  console.error(`${name}: ${us.toFixed(3)} µs/op`)
}

async function measureRedis(): Promise<void> {
  if (!redisServerInstalled()) return void console.error('redis: skipped (redis-server not installed)')
  const server = await startRedisServer()
  const store = new RedisStore({ url: server.url, operationTimeoutMs: 5000 })
  try {
    await store.connect()
    const n = Math.min(OPS, 20_000)
    await drive(store, 2000, 1)
    row('redis incr, 1 in flight', n, await drive(store, n, 1))
    row('redis incr, 50 in flight', OPS, await drive(store, OPS, 50))
    row('redis incr + TTL (EVALSHA), 1 in flight', n, await drive(store, n, 1, 60_000))
    row('redis incr + TTL (EVALSHA), 50 in flight', OPS, await drive(store, OPS, 50, 60_000))
  } finally {
    await store.close()
    await server.stop()
  }
}

async function main(): Promise<void> {
  const memory = new MemoryStore({ sweepIntervalMs: 0 })
  await drive(memory, 10_000, 1)
  row('memory incr, 1 in flight', OPS, await drive(memory, OPS, 1))
  row('memory incr, 50 in flight', OPS, await drive(memory, OPS, 50))
  await memory.close()

  const host = new SharedStoreHost({ sweepIntervalMs: 0 })
  const n = Math.min(OPS, 20_000)
  row(
    'shared incr (MessagePort), 1 worker, 1 in flight',
    n,
    await inWorkers(1, { mode: 'shared', ops: n, inFlight: 1 }, host),
  )
  row(
    'shared incr (MessagePort), 1 worker, 50 in flight',
    OPS,
    await inWorkers(1, { mode: 'shared', ops: OPS, inFlight: 50 }, host),
  )
  row(
    'shared incr (MessagePort), 2 workers, 50 in flight each',
    2 * OPS,
    await inWorkers(2, { mode: 'shared', ops: OPS, inFlight: 50 }, host),
  )
  host.close()

  const sab = new SharedArrayBuffer(4)
  row(
    'SAB Atomics.add, 1 worker',
    OPS * 10,
    await inWorkers(1, { mode: 'sab', ops: OPS * 10, inFlight: 1, sab }),
  )
  row(
    'SAB Atomics.add, 2 workers contending',
    OPS * 20,
    await inWorkers(2, { mode: 'sab', ops: OPS * 10, inFlight: 1, sab }),
  )

  await measureRedis()
  console.log(`node ${process.version}, ${OPS.toLocaleString('en')} ops per case\n`)
  console.log('| case | ops/s | µs per op |\n|---|---:|---:|')
  for (const r of rows) console.log(`| ${r.join(' | ')} |`)
}

if (isMainThread) await main()
else await workerMain(workerData as Job)
