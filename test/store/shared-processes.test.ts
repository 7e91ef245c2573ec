/**
 * The shared store across processes (as cluster workers would use it): 2
 * forked processes x 50 loops x 1,000 increments over IPC end at exactly
 * 100,000 on one SharedStoreHost.
 */
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { it } from 'node:test'
import { ipcPort } from '../../src/store/ipc-port.ts'
import { SharedStoreHost } from '../../src/store/shared.ts'

const CHILD = new URL('./fixtures/ipc-incr.ts', import.meta.url).pathname

it(
  '2 processes over IPC x 50 loops: 100,000 increments end at exactly 100,000',
  { timeout: 30_000 },
  async (t) => {
    const host = new SharedStoreHost()
    t.after(() => host.close())
    const children = [0, 1].map(() => {
      const child = fork(CHILD, ['50', '1000'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      t.after(() => void child.kill())
      host.attach(ipcPort(child))
      return child
    })
    const exited = children.map((c) => once(c, 'exit'))
    const started = performance.now()
    // The children's store requests arrive on the same channel; wait for the report.
    const reports = await Promise.all(
      children.map(
        (c) =>
          new Promise<{ max: number }>((r) =>
            c.on('message', (m: { max?: number }) => m.max && r(m as { max: number })),
          ),
      ),
    )
    const ms = performance.now() - started
    assert.equal(await host.store.get('hits'), '100000')
    assert.equal(Math.max(...reports.map((r) => r.max)), 100_000)
    t.diagnostic(
      `100,000 increments from 2 processes over IPC in ${ms.toFixed(0)} ms (process start included)`,
    )
    await Promise.all(exited)
    assert.equal(host.ports, 0, 'each child disconnecting detached its port')
  },
)
