/**
 * Exactness across real worker threads: 2 workers x 50 concurrent loops
 * increment one counter of the shared store 100,000 times in all, and the
 * counter ends at exactly 100,000.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { it } from 'node:test'
import { MessageChannel, Worker } from 'node:worker_threads'
import { SharedStoreHost } from '../../src/store/shared.ts'

const WORKER = new URL('./fixtures/incr-worker.ts', import.meta.url)

it(
  '2 worker threads x 50 loops: 100,000 increments end at exactly 100,000',
  { timeout: 30_000 },
  async (t) => {
    const host = new SharedStoreHost()
    t.after(() => host.close())
    const workers = [0, 1].map(() => {
      const { port1, port2 } = new MessageChannel()
      host.attach(port1)
      const worker = new Worker(WORKER, {
        workerData: { storePort: port2, key: 'hits', loops: 50, perLoop: 1000 },
        transferList: [port2],
      })
      t.after(() => worker.terminate())
      return worker
    })
    const exited = workers.map((w) => once(w, 'exit'))
    const started = performance.now()
    const reports = await Promise.all(workers.map((w) => once(w, 'message')))
    const ms = performance.now() - started
    assert.equal(await host.store.get('hits'), '100000')
    // The last increment anywhere saw 100,000: no value was skipped or repeated.
    assert.equal(Math.max(...reports.map(([r]) => (r as { max: number }).max)), 100_000)
    t.diagnostic(`100,000 increments from 2 workers in ${ms.toFixed(0)} ms`)
    await Promise.all(exited)
    assert.equal(host.ports, 0, 'each worker closing its client detached its port')
  },
)
