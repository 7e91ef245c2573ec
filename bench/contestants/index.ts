/**
 * The contestants, in the order each round runs them.
 */

import { proxyConfig, startNginx } from '../lib/nginx.ts'
import { hasTool } from '../lib/processes.ts'
import { type Contestant, type StartContext, startNodeServer } from './contestant.ts'
import { haproxy } from './haproxy.ts'
import { PORTCULLIS_NODE_FLAGS } from '../../src/cli/node-flags.ts'

/** The origin served directly from the contestant core: the ceiling no proxy can pass. */
const direct: Contestant = {
  id: 'direct',
  label: 'origin (direct)',
  role: 'ceiling',
  unavailable: () => undefined,
  start: (ctx: StartContext) => ctx.startOriginCopy(ctx.port, ctx.cpu),
}

const nginx: Contestant = {
  id: 'nginx',
  label: 'nginx',
  role: 'reference',
  unavailable: () => (hasTool('nginx') ? undefined : 'nginx is not installed'),
  start(ctx) {
    // Two instances run at once (GET and body origins): names must differ.
    const name = `nginx-proxy-${ctx.port}`
    return startNginx(ctx.dir, name, proxyConfig(ctx.dir, name, ctx.port, ctx.originPort), ctx.port, ctx.cpu)
  },
}

function nodeContestant(
  id: string,
  label: string,
  role: 'subject' | 'node-peer',
  script: string,
  nodeFlags: readonly string[] = [],
): Contestant {
  return {
    id,
    label,
    role,
    unavailable: () => undefined,
    start: (ctx) => startNodeServer(id, script, ctx, nodeFlags),
  }
}

export const CONTESTANTS: readonly Contestant[] = [
  direct,
  nodeContestant('portcullis', 'Portcullis', 'subject', 'portcullis.ts', PORTCULLIS_NODE_FLAGS),
  nginx,
  haproxy,
  nodeContestant('http-proxy', 'http-proxy', 'node-peer', 'http-proxy.ts'),
  nodeContestant('fastify', '@fastify/http-proxy', 'node-peer', 'fastify-proxy.ts'),
  nodeContestant('undici', 'node:http + undici', 'node-peer', 'undici-proxy.ts'),
  nodeContestant('l4', 'Node L4 pass-through', 'node-peer', 'l4.ts'),
]

export type { Contestant, StartContext } from './contestant.ts'
