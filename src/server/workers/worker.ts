/**
 * A worker process's entry: forked by the Supervisor (cluster), it waits for
 * its `start` message, builds one gateway, listens (cluster hands it
 * connections from the shared listener in the supervisor), and then answers
 * heartbeats, samples its health, applies reloads and drains on `stop`.
 * Signals are the supervisor's business: a terminal's Ctrl-C or a SIGHUP sent
 * to the whole process group reaches the workers too, and must not make each
 * of them act on its own.
 */
import cluster from 'node:cluster'
import { isAbsolute } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { GatewayHooks } from '../../core/hooks.ts'
import { ErrorLog } from '../../observe/error-log.ts'
import { reopenLogFiles } from '../../observe/log-files.ts'
import { ipcPort } from '../../store/shared.ts'
import type { StoreContext } from '../../store/registry.ts'
import { createGateway, type Gateway } from '../gateway.ts'
import { workerSampleChannel } from './channels.ts'
import { type FromWorker, isToWorker, type ToWorker } from './messages.ts'
import { Sampler } from './sampler.ts'

let gateway: Gateway | undefined
let log: ErrorLog | undefined
let sampler: Sampler | undefined
let stopping = false

function send(message: FromWorker): void {
  // A send after the supervisor went away fails; the 'disconnect' that
  // follows ends this process (cluster's own handler), so the error is moot.
  process.send?.(message, undefined, {}, () => {})
}

async function start(m: Extract<ToWorker, { t: 'start' }>): Promise<void> {
  try {
    const hooks = m.hooks === undefined ? undefined : await loadHooks(m.hooks)
    // The seam of the `shared` store: requests to the supervisor's
    // SharedStoreHost travel on this process's IPC channel (src/store/shared.ts).
    const stores: StoreContext = { sharedPort: ipcPort(process) }
    log = new ErrorLog(m.config.log, { worker: id(), pid: process.pid })
    gateway = await createGateway(m.config, { hooks, stores, log })
    for (const action of m.overrides ?? []) gateway.admin?.act(action)
    await gateway.listen()
  } catch (err) {
    send({ t: 'failed', message: err instanceof Error ? err.message : String(err) })
    process.exitCode = 2
    cluster.worker?.disconnect()
    return
  }
  sampler = new Sampler(m.sampleInterval, function report(sample) {
    if (workerSampleChannel.hasSubscribers)
      workerSampleChannel.publish({ worker: id(), pid: process.pid, sample })
    send({ t: 'sample', sample })
  })
  send({ t: 'listening', addresses: gateway.addresses() })
}

async function loadHooks(specifier: string): Promise<GatewayHooks | GatewayHooks[]> {
  const url = isAbsolute(specifier) ? pathToFileURL(specifier).href : specifier
  const mod = (await import(url)) as { default?: GatewayHooks | GatewayHooks[] }
  if (mod.default === undefined) throw new Error(`hooks module ${specifier} has no default export`)
  return mod.default
}

async function reload(m: Extract<ToWorker, { t: 'reload' }>): Promise<void> {
  try {
    await gateway!.reload(m.config)
    send({ t: 'reloaded', seq: m.seq })
  } catch (err) {
    send({ t: 'reloaded', seq: m.seq, error: err instanceof Error ? err.message : String(err) })
  }
}

/** stop drains and leaves. */
async function stop(drainTimeout: number, idleGrace: number): Promise<void> {
  if (stopping) return
  stopping = true
  sampler?.stop()
  await gateway?.close({ drainTimeout, idleGrace }).catch(() => {})
  await log?.close()
  // Exit naturally so buffered output (access logs) is flushed; a handle
  // someone forgot to close must not keep a stopped worker alive.
  setTimeout(() => process.exit(), 2000).unref()
  cluster.worker?.disconnect()
}

function id(): number {
  return cluster.worker?.id ?? 0
}

function onMessage(m: unknown): void {
  if (!isToWorker(m)) return
  switch (m.t) {
    case 'start':
      void start(m)
      return
    case 'ping':
      send({ t: 'pong', seq: m.seq })
      return
    case 'reload':
      void reload(m)
      return
    case 'admin': {
      const answer = gateway?.admin?.answer(m.ask) ?? {
        ok: false as const,
        status: 503,
        code: 'NO_GATEWAY',
        message: 'the worker has no gateway with admin: yet',
      }
      send({ t: 'admin', seq: m.seq, ...answer })
      return
    }
    case 'stop':
      void stop(m.drainTimeout, m.idleGrace)
      return
    case 'reopen':
      reopenLogFiles()
  }
}

if (cluster.isPrimary)
  throw new Error('src/server/workers/worker.ts runs in a worker forked by the Supervisor')
process.on('message', onMessage)
send({ t: 'hello' })
for (const signal of ['SIGINT', 'SIGHUP', 'SIGUSR2'] as const) process.on(signal, () => {})
// SIGTERM sent to this worker alone (by an operator or a process manager) drains it.
// SIGUSR1 reopens log files, as in the supervisor (a listener also keeps it
// from opening Node's inspector, its default).
process.on('SIGUSR1', reopenLogFiles)
// A crash leaves its reason in the error log (then Node exits as usual; 'exit' flushes the logs).
process.on('uncaughtExceptionMonitor', (err, origin) => {
  log?.log('fatal', `worker crashed: ${origin}`, { stack: err instanceof Error ? err.stack : String(err) })
})
process.on('SIGTERM', () => void stop(gateway?.config.timeouts.drain ?? 0, 0))
