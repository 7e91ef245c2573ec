/**
 * What a worker crash costs the clients, per accept mode: two workers, five
 * times one is SIGKILLed and ten requests on new connections are sent at
 * once right after; prints how many failed. Measured here: shared 0 of 50,
 * round-robin 5 of 50 (one per kill: the connection the supervisor handed
 * to the worker as it died).
 *
 * Usage: node bench/workers-kill.ts shared|round-robin
 */
import http from 'node:http'
import { configSchema } from '../src/config/schema.ts'
import { Supervisor } from '../src/server/workers/supervisor.ts'
const accept = process.argv[2] as 'shared' | 'round-robin'
const config = configSchema.parse({
  listen: [{ address: '127.0.0.1:0' }],
  routes: [{ respond: { body: 'ok' } }],
  supervisor: { accept },
})
const s = new Supervisor({
  workers: 2,
  config,
  hooks: new URL('../test/workers/fixtures/hooks.ts', import.meta.url).href,
  log: () => {},
})
await s.listen()
const port = s.addresses()[0]!.port
const get = () =>
  new Promise<string>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/pid', agent: false, timeout: 2000 }, (res) => {
      res.resume()
      res.on('end', () => resolve('ok'))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
  })
let bad = 0
for (let round = 0; round < 5; round++) {
  const victim = s.workers().find((w) => w.state === 'listening')!.pid
  process.kill(victim, 'SIGKILL')
  const results = await Promise.all(Array.from({ length: 10 }, get))
  bad += results.filter((r) => r !== 'ok').length
  while (s.workers().filter((w) => w.state === 'listening').length < 2)
    await new Promise((r) => setTimeout(r, 50))
}
console.log(accept, 'failed requests right after 5 kills (10 each):', bad)
await s.close({ drainTimeout: 0 })
