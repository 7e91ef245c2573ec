/**
 * The built-in admin routes (docs/admin-api.md; docs/admin-openapi.yaml
 * describes every answer and test/admin validates live ones against it).
 * Reads are GET; actions are POST and logged with who asked.
 */
import { readFileSync } from 'node:fs'
import type { AdminInstance, TargetAction } from './instance.ts'
import { renderExposition } from '../metrics/exposition.ts'
import { redactConfig } from './redact.ts'
import { AdminError, type AdminRequest, type AdminRoute, json, text } from './routes.ts'

/** The package version, read once from package.json (the one source of truth). */
const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version

/** apiRoutes are the built-in admin routes. */
export function apiRoutes(): AdminRoute[] {
  return [
    get('/healthz', (_req, res) => json(res, 200, { status: 'ok' }), true),
    get(
      '/readyz',
      async (req, res) => {
        const reasons = await req.instance.notReady()
        json(res, reasons.length === 0 ? 200 : 503, { ready: reasons.length === 0, reasons })
      },
      true,
    ),
    get('/metrics', async (req, res) => {
      const snapshot = await req.instance.metrics()
      if (snapshot === undefined) throw new AdminError(404, 'METRICS_OFF', 'admin.metrics is false')
      // The Prometheus text exposition format, version 0.0.4.
      text(res, 200, renderExposition(snapshot), 'text/plain; version=0.0.4; charset=utf-8')
    }),
    get('/api/version', (_req, res) =>
      json(res, 200, { name: 'portcullis', version: VERSION, node: process.version }),
    ),
    get('/api/config', (req, res) => json(res, 200, redactConfig(req.instance.config()))),
    get('/api/routes', (req, res) => json(res, 200, { routes: routeList(req.instance) })),
    get('/api/routes/:name', (req, res) => {
      const route = req.instance.route(req.params.name!)
      if (route === undefined) throw new AdminError(404, 'UNKNOWN_ROUTE', `no route named ${req.params.name}`)
      json(res, 200, redactConfig(route))
    }),
    get('/api/upstreams', async (req, res) => {
      json(res, 200, { upstreams: (await req.instance.state()).upstreams })
    }),
    get('/api/upstreams/:name', async (req, res) => {
      const u = (await req.instance.state()).upstreams.find((x) => x.name === req.params.name)
      if (u === undefined)
        throw new AdminError(404, 'UNKNOWN_UPSTREAM', `no upstream named ${req.params.name}`)
      json(res, 200, u)
    }),
    get('/api/workers', async (req, res) =>
      json(res, 200, { workers: (await req.instance.state()).workers }),
    ),
    get('/api/connections', async (req, res) => {
      const s = await req.instance.state()
      const targets = s.upstreams.flatMap((u) =>
        u.targets.map((t) => ({ upstream: u.name, target: t.url, open: t.pool.open, idle: t.pool.idle })),
      )
      json(res, 200, { downstream: { open: s.connections }, upstream: targets, listeners: s.listeners })
    }),
    post('/api/reload', async (req, res) => {
      await req.instance.reload()
      json(res, 200, { reloaded: true })
    }),
    post('/api/upstreams/:name/drain', (req, res) => targetAction(req, res, 'drain')),
    post('/api/upstreams/:name/undrain', (req, res) => targetAction(req, res, 'undrain')),
    post('/api/upstreams/:name/weight', (req, res) => targetAction(req, res, 'weight')),
  ]
}

function get(path: string, handle: AdminRoute['handle'], isPublic = false): AdminRoute {
  return { method: 'GET', path, handle, public: isPublic }
}

function post(path: string, handle: AdminRoute['handle']): AdminRoute {
  return { method: 'POST', path, handle }
}

function routeList(instance: AdminInstance): Record<string, unknown>[] {
  return instance.config().routes.map((r, index) => ({
    name: r.name ?? `route-${index}`,
    index,
    match: r.match,
    upstream: r.upstream ?? null,
  }))
}

/** targetAction reads `{ target, weight? }` and applies a drain, undrain or weight to it in every worker. */
async function targetAction(
  req: AdminRequest,
  res: import('node:http').ServerResponse,
  kind: TargetAction['kind'],
): Promise<void> {
  const body = await req.body()
  const target = body.target
  if (typeof target !== 'string' || target === '')
    throw new AdminError(400, 'MALFORMED_REQUEST', 'the body needs "target": the target URL or origin')
  const upstream = req.params.name!
  let action: TargetAction
  if (kind === 'weight') {
    const weight = body.weight
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 1000)
      throw new AdminError(
        400,
        'MALFORMED_REQUEST',
        '"weight" must be an integer from 1 to 1000 (drain a target to stop its traffic)',
      )
    action = { kind, upstream, target, weight }
  } else action = { kind, upstream, target }
  const url = await req.instance.act(action)
  const state = (await req.instance.state()).upstreams.find((u) => u.name === upstream)
  json(res, 200, { upstream, target: state?.targets.find((t) => t.url === url) ?? { url } })
}
