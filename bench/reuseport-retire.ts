/**
 * Does a worker-thread model on SO_REUSEPORT lose connections when a worker
 * retires? Two worker threads each run the benchmark gateway on the same
 * port with `reusePort`; under wrk load, the script rolls them 10 times the
 * way the Supervisor rolls processes (a new one listens, then the old one
 * closes its listener and drains with the same 500 ms idle grace) and prints
 * wrk's report: any "Socket errors" are connections the model lost. The
 * process model's counterpart is test/workers/cli-workers.test.ts.
 *
 * Usage: node bench/reuseport-retire.ts ORIGIN_PORT [SECONDS] [close]   (run an origin first:
 *   node bench/servers/node-origin.ts ORIGIN_PORT)
 */
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { createGateway } from '../src/index.ts'
import { contestantConfig } from './servers/portcullis-config.ts'

interface Data {
  port: number
  originPort: number
}

if (!isMainThread) {
  const { port, originPort } = workerData as Data
  const gateway = await createGateway(contestantConfig(port, originPort), { reusePort: true })
  await gateway.listen()
  parentPort!.postMessage('listening')
  parentPort!.once('message', () => {
    void gateway.close({ drainTimeout: 5000, idleGrace: 500 }).then(() => process.exit(0))
  })
} else {
  const originPort = Number(process.argv[2])
  const seconds = Number(process.argv[3] ?? 20)
  // `close`: a new connection per request, so connections keep arriving in the accept queues.
  const wrkArgs = ['-t1', '-c20', ...(process.argv[4] === 'close' ? ['-H', 'Connection: close'] : [])]
  const port = await freePort()
  const start = async (): Promise<Worker> => {
    const w = new Worker(new URL(import.meta.url), { workerData: { port, originPort } satisfies Data })
    await once(w, 'message')
    return w
  }
  const workers = [await start(), await start()]
  const report = new Promise<string>((resolve) =>
    execFile(
      'nice',
      ['-n', '10', 'wrk', ...wrkArgs, `-d${seconds}s`, `http://127.0.0.1:${port}/small`],
      (_e, out) => resolve(out),
    ),
  )
  await new Promise((r) => setTimeout(r, 500))
  for (let i = 0; i < 10; i++) {
    const slot = i % 2
    const fresh = await start()
    const old = workers[slot]!
    workers[slot] = fresh
    old.postMessage('stop')
    await once(old, 'exit')
  }
  console.log('10 rolling replacements done')
  console.log(await report)
  for (const w of workers) await w.terminate()
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}
