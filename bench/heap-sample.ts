/**
 * Where a small request's garbage comes from: runs Portcullis in front of an
 * origin with V8's sampling heap profiler on (collected objects included,
 * so short-lived garbage shows), waits SECONDS while something loads it,
 * then prints the allocating functions by bytes.
 *
 * usage: node bench/heap-sample.ts PORT ORIGIN_PORT [SECONDS]
 *   then load it, e.g. taskset -c 0 wrk -t1 -c50 -d5s http://127.0.0.1:PORT/small
 */
import { Session } from 'node:inspector/promises'
import { createGateway } from '../src/index.ts'
import { contestantConfig } from './servers/portcullis-config.ts'

const [port, originPort, seconds = 8] = process.argv.slice(2).map(Number)
const gateway = await createGateway(contestantConfig(port!, originPort!))
await gateway.listen()
const inspector = new Session()
inspector.connect()
await inspector.post('HeapProfiler.startSampling', {
  samplingInterval: 256,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
})
await new Promise((r) => setTimeout(r, seconds * 1000))
const { profile } = (await inspector.post('HeapProfiler.stopSampling')) as {
  profile: { head: Node }
}
interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number }
  selfSize: number
  children: Node[]
}
const byFrame = new Map<string, number>()
let total = 0
const walk = (n: Node, parent: string): void => {
  const f = n.callFrame
  const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(src|lib|internal)\//, '$1/')}:${f.lineNumber + 1}`
  if (n.selfSize > 0) {
    const key = `${name}  <- ${parent}`
    byFrame.set(key, (byFrame.get(key) ?? 0) + n.selfSize)
    total += n.selfSize
  }
  for (const c of n.children) walk(c, name)
}
walk(profile.head, '')
const stats = gateway.stats() as unknown as Record<string, unknown>
console.log(`sampled ${(total / 1024 / 1024).toFixed(1)} MiB`, JSON.stringify(stats).slice(0, 200))
for (const [k, v] of [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
  console.log(`${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
}
await gateway.close()
process.exit(0)
