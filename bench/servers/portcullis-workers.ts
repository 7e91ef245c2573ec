/**
 * The contestant of bench/workers-models.sh: N copies of the benchmark
 * gateway (servers/portcullis.ts) in one of the two multi-core models Node
 * offers, to measure them against each other before choosing one.
 *
 *   threads         N worker threads, each binding PORT with SO_REUSEPORT
 *                   (the kernel spreads connections)
 *   cluster         N cluster processes, the primary accepting and handing
 *                   connections round-robin (Node's default on Linux)
 *   cluster-shared  N cluster processes sharing one listening socket
 *                   (SCHED_NONE: each worker accepts from it)
 *
 * Usage: node bench/servers/portcullis-workers.ts MODEL N PORT ORIGIN_PORT
 */
import cluster from 'node:cluster'
import { isMainThread, Worker, workerData } from 'node:worker_threads'
import { createGateway } from '../../src/index.ts'
import { contestantConfig } from './portcullis-config.ts'

const [model, n, port, originPort] = process.argv.slice(2)
const config = contestantConfig(Number(port), Number(originPort))

if (model === 'threads') {
  if (isMainThread) {
    for (let i = 0; i < Number(n); i++) new Worker(new URL(import.meta.url), { argv: process.argv.slice(2) })
    process.on('SIGTERM', () => process.exit(0))
  } else {
    void workerData
    await (await createGateway(config, { reusePort: true })).listen()
  }
} else if (cluster.isPrimary) {
  if (model === 'cluster-shared') cluster.schedulingPolicy = cluster.SCHED_NONE
  else cluster.schedulingPolicy = cluster.SCHED_RR
  for (let i = 0; i < Number(n); i++) cluster.fork()
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill()
    process.exit(0)
  })
} else {
  await (await createGateway(config)).listen()
}
