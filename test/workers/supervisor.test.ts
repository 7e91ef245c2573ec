/**
 * The Supervisor with real worker processes on 127.0.0.1 port 0: a killed
 * worker comes back while the others keep serving, a worker stuck in a busy
 * loop is replaced on its missed heartbeat, and a worker over its memory
 * limit is replaced without a failed request. Each test stops everything it
 * started, even when it fails (and the workers leave by themselves if this
 * process dies: their IPC channel closes).
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { describe, it, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { configSchema, type GatewayConfigInput } from '../../src/config/schema.ts'
import {
  type WorkerRestartMessage,
  type WorkerSampleMessage,
  workerRestartChannel,
  workerSampleChannel,
} from '../../src/server/workers/channels.ts'
import { Supervisor } from '../../src/server/workers/supervisor.ts'
import { waitFor } from '../helpers/gateway.ts'

const HOOKS = fileURLToPath(new URL('./fixtures/hooks.ts', import.meta.url))

interface Running {
  supervisor: Supervisor
  port: number
  lines: string[]
}

async function startSupervisor(t: TestContext, extra: GatewayConfigInput = {}): Promise<Running> {
  const config = configSchema.parse({
    listen: [{ address: '127.0.0.1:0' }],
    routes: [{ respond: { body: 'ok' } }],
    ...extra,
  })
  const lines: string[] = []
  const supervisor = new Supervisor({ workers: 2, config, hooks: HOOKS, log: (l) => lines.push(l) })
  t.after(() => supervisor.close({ drainTimeout: 0 }))
  await supervisor.listen()
  return { supervisor, port: supervisor.addresses()[0]!.port, lines }
}

/** get sends one request on a new connection (so round-robin spreads them) and never throws. */
function get(
  port: number,
  path: string,
  timeout = 3000,
  agent: http.Agent | false = false,
): Promise<{ status: number; body: string } | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, timeout }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
      res.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
  })
}

/**
 * pidsServing collects which workers answer, four new connections at a time,
 * until both did (a shared socket spreads connections unevenly) or 64 asked.
 */
async function pidsServing(port: number): Promise<Set<string>> {
  const pids = new Set<string>()
  for (let asked = 0; asked < 64 && pids.size < 2; asked += 4) {
    for (const r of await Promise.all([1, 2, 3, 4].map(() => get(port, '/pid')))) {
      assert.equal(typeof r, 'object', `request failed: ${String(r)}`)
      pids.add((r as { body: string }).body)
    }
  }
  return pids
}

function listeningPids(s: Supervisor): number[] {
  return s
    .workers()
    .filter((w) => w.state === 'listening')
    .map((w) => w.pid)
}

describe('Supervisor', () => {
  it('restarts a killed worker while the other keeps serving', async (t) => {
    const { supervisor, port, lines } = await startSupervisor(t, {
      supervisor: { restartBackoff: { initial: '500ms' } },
    })
    const before = await pidsServing(port)
    assert.equal(before.size, 2, 'both workers serve')
    const victim = listeningPids(supervisor)[0]!
    process.kill(victim, 'SIGKILL')
    // With shared accept, a connection is in no worker's hands until one
    // accepts it: every request right after the kill is served by the
    // survivor (with round-robin, the one handed to the dying worker is
    // lost: docs/architecture.md).
    for (let i = 0; i < 10; i++) {
      const r = await get(port, '/pid')
      assert.equal(typeof r, 'object', `request ${i} failed after the kill: ${String(r)}`)
    }
    await waitFor(
      () => listeningPids(supervisor).length === 2 && !listeningPids(supervisor).includes(victim),
      'the worker to come back',
      10_000,
    )
    assert.ok(
      lines.some((l) => l.includes(`(pid ${victim}) was killed by SIGKILL; restarting it in 500 ms`)),
      lines.join('\n'),
    )
    const after = await pidsServing(port)
    assert.equal(after.size, 2)
    assert.ok(!after.has(String(victim)))
  })

  it('restarts a worker that dies of an uncaught exception, logging its exit code', async (t) => {
    const { supervisor, port, lines } = await startSupervisor(t)
    assert.deepEqual(await get(port, '/crash'), { status: 200, body: 'crashing' })
    await waitFor(
      () => lines.some((l) => /exited with code 1; restarting it in \d+ ms/.test(l)),
      'the crash log',
    )
    await waitFor(() => listeningPids(supervisor).length === 2, 'the worker to come back', 10_000)
    assert.equal((await pidsServing(port)).size, 2)
  })

  it('replaces a worker stuck in a busy loop once it misses its heartbeat', async (t) => {
    const { supervisor, port, lines } = await startSupervisor(t, {
      supervisor: { heartbeatInterval: '100ms', heartbeatTimeout: '600ms' },
    })
    const stuck = get(port, '/block', 5000)
    await waitFor(
      () => lines.some((l) => /did not answer its heartbeat for \d+ ms; restarting/.test(l)),
      'the heartbeat log',
      5000,
    )
    assert.equal(typeof (await stuck), 'string', 'the request that blocked the worker fails')
    await waitFor(() => listeningPids(supervisor).length === 2, 'a new worker', 10_000)
    assert.equal((await pidsServing(port)).size, 2)
  })

  it('replaces a worker over its memory limit without a failed request', async (t) => {
    const { supervisor, port, lines } = await startSupervisor(t, {
      supervisor: { sampleInterval: '100ms', maxMemory: { heap: '64mb', for: '300ms' } },
    })
    const samples: WorkerSampleMessage[] = []
    const restarts: WorkerRestartMessage[] = []
    const onSample = (m: unknown) => samples.push(m as WorkerSampleMessage)
    const onRestart = (m: unknown) => restarts.push(m as WorkerRestartMessage)
    workerSampleChannel.subscribe(onSample)
    workerRestartChannel.subscribe(onRestart)
    t.after(() => {
      workerSampleChannel.unsubscribe(onSample)
      workerRestartChannel.unsubscribe(onRestart)
    })
    const original = new Set(listeningPids(supervisor))
    const failures: string[] = []
    let served = 0
    let load = true
    const client = (async () => {
      // Keep-alive connections (on the worker that drains, answered with
      // Connection: close) and new ones alternate.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
      for (let i = 0; load; i++) {
        const r = await get(port, '/pid', 3000, i % 2 === 0 ? agent : false)
        if (typeof r === 'string' || r.status !== 200)
          failures.push(String(typeof r === 'string' ? r : r.status))
        else served++
      }
      agent.destroy()
    })()
    try {
      let grown: string | undefined
      while (grown === undefined) {
        const r = await get(port, '/grow')
        if (typeof r === 'object' && r.body === 'grown 12') grown = 'yes' // one worker holds ~96 MB now
      }
      await waitFor(
        () => lines.some((l) => /replaced worker \d+ \(pid \d+\), which drains/.test(l)),
        'the replacement',
        10_000,
      )
      assert.ok(
        lines.some((l) =>
          /replacing worker \d+ \(pid \d+\): heap \d+ MB above maxMemory\.heap 64 MB for \d+ ms/.test(l),
        ),
        lines.join('\n'),
      )
      await waitFor(
        () => listeningPids(supervisor).filter((p) => !original.has(p)).length === 1,
        'the old worker to leave',
        10_000,
      )
    } finally {
      load = false
      await client
    }
    assert.deepEqual(failures, [], `${served} served`)
    assert.ok(served > 10, `${served} served`)
    // Every worker's samples reach the supervisor's diagnostics channel.
    assert.ok(samples.some((m) => m.sample.heapUsed > 64 * 1024 * 1024 && original.has(m.pid)))
    assert.ok(samples.every((m) => m.sample.rss > 0 && Number.isFinite(m.sample.loopDelay.p99)))
    assert.deepEqual(
      restarts.map((m) => [m.cause, original.has(m.pid)]),
      [['WORKER_MEMORY_LIMIT', true]],
    )
  })
})
