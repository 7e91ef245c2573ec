/**
 * HAProxy as a contestant: HTTP mode, one thread, server-side connection
 * reuse (`http-reuse always`), keep-alive on both sides, no logging.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { hardFileLimit, hasTool, spawnManaged, waitForHttp } from '../lib/processes.ts'
import type { Contestant, StartContext } from './contestant.ts'

function haproxyConfig(port: number, originPort: number): string {
  // maxconn must admit the 10,000 idle clients. HAProxy wants 2 fds per
  // connection and by default refuses to start when it cannot get them;
  // with reused server connections the real need is about one per client,
  // so where the hard limit is lower (containers) it may start anyway.
  const maxconn = 11_000
  const lenient = hardFileLimit() < 2 * maxconn + 100 ? '\n  no strict-limits' : ''
  return `global
  nbthread 1
  maxconn ${maxconn}${lenient}

defaults
  mode http
  option http-keep-alive
  http-reuse always
  maxconn ${maxconn}
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 120s
  timeout http-request 10s

frontend bench
  bind 127.0.0.1:${port} backlog 4096
  default_backend origin

backend origin
  server origin 127.0.0.1:${originPort}
`
}

export const haproxy: Contestant = {
  id: 'haproxy',
  label: 'HAProxy',
  role: 'native',
  unavailable: () => (hasTool('haproxy') ? undefined : 'haproxy is not installed (apt-get install haproxy)'),
  async start(ctx: StartContext) {
    const file = join(ctx.dir, `haproxy-${ctx.port}.cfg`)
    writeFileSync(file, haproxyConfig(ctx.port, ctx.originPort))
    const p = spawnManaged('haproxy', 'haproxy', ['-db', '-f', file], { cpu: ctx.cpu, nofile: 65536 })
    await waitForHttp(ctx.port, '/small', p)
    return p
  },
}
