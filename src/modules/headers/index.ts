/**
 * The `headers` route transform: set, add and remove request fields on
 * their way upstream (onUpstreamRequest) and response fields on their way to
 * the client (onResponse). Values are templates (`{request.id}`,
 * `{params.id}` …). Within one side the order is remove, then set, then add.
 */
import { type HeaderChangesConfig, paramNamesOf } from '../../config/route-schema.ts'
import type { HeaderList } from '../../core/header-list.ts'
import type { GatewayHooks, ResponseHeadView, UpstreamRequest } from '../../core/hooks.ts'
import { compileTemplate, type Template, type TemplateScope } from '../../core/placeholders.ts'
import type { Session } from '../../core/session.ts'
import type { RouteModule } from '../registry.ts'

/** One side's changes, compiled. */
export interface HeaderChanges {
  readonly remove: readonly string[]
  readonly set: readonly (readonly [string, Template])[]
  readonly add: readonly (readonly [string, Template])[]
}

/** headers gives a route with `headers:` its request and response hooks. */
export const headersModule: RouteModule = function headers(route): GatewayHooks | undefined {
  const cfg = route.headers
  if (cfg === undefined) return undefined
  const scope: TemplateScope = { params: paramNamesOf(route.match) }
  const request = compileChanges(cfg.request, scope)
  const response = compileChanges(cfg.response, scope)
  const hooks: GatewayHooks = {}
  if (request !== undefined)
    hooks.onUpstreamRequest = function requestHeaders(session: Session, req: UpstreamRequest): void {
      applyChanges(req.headers, request, session)
    }
  if (response !== undefined)
    hooks.onResponse = function responseHeaders(session: Session, res: ResponseHeadView): void {
      applyChanges(res.headers, response, session)
    }
  return hooks
}

/** compileChanges compiles one side's changes; undefined when there are none. */
export function compileChanges(
  cfg: HeaderChangesConfig | undefined,
  scope: TemplateScope,
): HeaderChanges | undefined {
  if (cfg === undefined) return undefined
  const compile = (m: Record<string, string> | undefined) =>
    Object.entries(m ?? {}).map(([name, value]) => [name, compileTemplate(value, scope)] as const)
  const changes = { remove: cfg.remove ?? [], set: compile(cfg.set), add: compile(cfg.add) }
  const empty = changes.remove.length + changes.set.length + changes.add.length === 0
  return empty ? undefined : changes
}

/** applyChanges edits a header list in place: remove, then set, then add. */
export function applyChanges(list: HeaderList, changes: HeaderChanges, session: Session): void {
  for (const name of changes.remove) list.delete(name)
  for (const [name, value] of changes.set) list.set(name, value.render(session))
  for (const [name, value] of changes.add) list.append(name, value.render(session))
}
