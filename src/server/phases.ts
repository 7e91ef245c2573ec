/**
 * The request phases between a parsed head and a response (the lifecycle in
 * docs/architecture.md): onRequestHead hooks, routing, the route's
 * onRequest hooks, then its action: a fixed response, a module's action
 * (static files, redirect) or proxying upstream. A phase without hooks costs
 * a length check; hooks that answer synchronously allocate no promise.
 */
import { GatewayError, toGatewayError } from '../core/errors.ts'
import { type GatewayResponse, type HookLists, type HookResult, runRequestHooks } from '../core/hooks.ts'
import type { Session } from '../core/session.ts'
import { allowedUpgrade } from '../proxy/forwarding.ts'
import { normalizeTarget } from '../routing/normalize-path.ts'
import type { CompiledRoute } from '../routing/router.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { isReadable } from './gateway-response.ts'
import type { Runtime } from './runtime.ts'

/** What the phases need from the connection carrying the request. */
export interface PhaseHost {
  /** The request the connection is serving now (another, or none, once the client left). */
  readonly current: Session | null
  respond(res: GatewayResponse): void
  respondError(err: GatewayError): void
  /** proxy sends the request to `upstream`. */
  proxy(session: Session, route: CompiledRoute, upstream: Upstream): void
}

/** runPhases takes a session from its parsed head to its answer. */
export function runPhases(host: PhaseHost, rt: Runtime, session: Session): void {
  // Hooks, routes and the upstream all see the normalised path (normalize-path.ts).
  const target = normalizeTarget(session.head.target, rt.config.paths)
  if (typeof target !== 'string') {
    host.respondError(target)
    return
  }
  session.head.target = target
  const hooks = rt.hooks.onRequestHead
  if (hooks.length === 0) route(host, rt, session)
  else runHooks(host, hooks, session, () => route(host, rt, session))
}

function route(host: PhaseHost, rt: Runtime, session: Session): void {
  const matched = rt.router.match(session)
  if (matched === undefined) {
    host.respondError(new GatewayError('NO_ROUTE', 'no route matched'))
    return
  }
  session.route = matched
  const onRequest = matched.hooks.onRequest
  if (onRequest.length === 0) act(host, rt, session, matched)
  else runHooks(host, onRequest, session, () => act(host, rt, session, matched))
}

function act(host: PhaseHost, rt: Runtime, session: Session, route: CompiledRoute): void {
  const fixed = route.config.respond
  if (fixed !== undefined) {
    host.respond(fixed)
    return
  }
  const action = route.hooks.action
  if (action.length > 0) {
    // A module performs this route's action (static files, redirect); it always answers.
    runHooks(host, action, session, () =>
      host.respondError(new GatewayError('INTERNAL_ERROR', `route ${route.name}: its action did not answer`)),
    )
    return
  }
  const upstream = route.upstream === undefined ? undefined : rt.upstreams.get(route.upstream)
  if (upstream === undefined) {
    host.respondError(new GatewayError('INTERNAL_ERROR', `route ${route.name} has no handler`))
    return
  }
  const head = session.head
  // Decided once, before anything uses it: the Upgrade forwarded, the 101 accepted, the tunnel.
  if (head.upgradeProtocol !== undefined)
    head.upgradeProtocol = allowedUpgrade(head.upgradeProtocol, rt.policyFor(route).upgrades)
  host.proxy(session, route, upstream)
}

/** runHooks runs request hooks; `next` continues the request, a `respond` result answers it. */
function runHooks(host: PhaseHost, hooks: HookLists['onRequest'], session: Session, next: () => void): void {
  runRequestHooks(hooks as never, session, (err: unknown, result: HookResult | undefined) => {
    if (host.current !== session) {
      // The client left meanwhile; a streamed answer must still release what it holds (an open file).
      if (result?.kind === 'respond' && isReadable(result.response.body)) result.response.body.destroy()
      return
    }
    if (err !== undefined) host.respondError(toGatewayError(err, 'HOOK_FAILED'))
    else if (result !== undefined && result.kind === 'respond') host.respond(result.response)
    else next()
  })
}
