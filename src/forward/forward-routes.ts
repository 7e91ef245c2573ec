/**
 * The routes forward-proxied requests run under. They are not in the route
 * table (nothing is matched by path): one route for direct requests, whose
 * hooks are the user's global hooks, one per chained upstream proxy, whose
 * first hook turns the request line into absolute-form for that proxy
 * (RFC 9112 §3.2.2), and one for requests inside intercepted TLS. Each has
 * a name for logs and metrics: `forward`, `forward-chain-N`, `mitm`.
 */
import type net from 'node:net'
import type { GatewayConfig, RouteConfig } from '../config/schema.ts'
import { GatewayError } from '../core/errors.ts'
import { routeSchema } from '../config/route-schema.ts'
import { compileHooks, type GatewayHooks, type HookLists } from '../core/hooks.ts'
import { type ModuleContext, routeModuleHooks } from '../modules/registry.ts'
import type { Destination } from '../core/session.ts'
import type { CompiledRoute } from '../routing/router.ts'
import { authorityOf } from './authority.ts'
import { connectTo } from './connect-tunnel.ts'
import { resolveHost } from './resolve.ts'

/** forwardRoute builds a route outside the table named `name` with these hooks (and `forward.route`'s keys). */
export function forwardRoute(name: string, hooks: HookLists, fragment?: object): CompiledRoute {
  return {
    index: -1,
    name,
    upstream: undefined,
    path: undefined,
    pathMatcher: undefined,
    specificity: 0,
    methods: undefined,
    conditions: undefined,
    config: forwardRouteConfig(name, fragment),
    hooks,
  }
}

/** forwardRouteConfig: a route named `name` with `forward.route`'s keys (already validated) and its sets opted into. */
function forwardRouteConfig(name: string, fragment: object | undefined): RouteConfig {
  const base = routeSchema.parse({ name, match: {}, upstream: name })
  if (fragment === undefined) return base
  const f = fragment as Partial<RouteConfig>
  return { ...base, ...f, policies: f.policies ?? [] }
}

/**
 * forwardModules: the route modules (auth, rate limit, access, headers…)
 * `forward.route` asks for, made once per runtime like a reverse route's
 * (modules/registry.ts), for every forward, chained and mitm Session.
 */
export function forwardModules(config: GatewayConfig, context: ModuleContext): GatewayHooks[] {
  const fragment = config.forward?.route
  if (fragment === undefined) return []
  return routeModuleHooks(forwardRouteConfig('forward', fragment), config, context)
}

/**
 * chainHooks: the request goes to the chained proxy in absolute-form, with
 * the proxy's own credentials (from its URL) when it has some.
 */
export function chainHooks(proxy: URL): GatewayHooks {
  const credentials =
    proxy.username === ''
      ? undefined
      : `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`
  return {
    onUpstreamRequest: function chainedRequest(session, req) {
      const dest = session.destination!
      req.path = `${dest.scheme}://${authorityOf(dest)}${req.path}`
      if (credentials !== undefined) req.headers.set('Proxy-Authorization', credentials)
    },
  }
}

/** chainConnect is the CONNECT request sent to a chained proxy for a tunnel (RFC 9110 §9.3.6). */
export function chainConnect(proxy: URL, authority: string): string {
  const auth =
    proxy.username === ''
      ? ''
      : `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}\r\n`
  return `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`
}

/**
 * chainVia opens the way to an intercepted `dest` behind the chained proxy
 * `proxy`, once per pooled connection: the proxy's name resolved, a CONNECT
 * for the destination (with the proxy's credentials), and the tunnel's
 * socket, which the origin's TLS then runs on (verified as usual, SNI the
 * host). A proxy
 * that cannot be reached or answers other than 2xx fails the connection
 * with a 502 (504 on the connect timeout), the proxy named in the message
 * the error log shows (never its credentials).
 */
export function chainVia(proxy: URL, dest: Destination, connectTimeout: number): () => Promise<net.Socket> {
  const host = proxy.hostname.replace(/^\[|\]$/g, '')
  const port = Number(proxy.port || 80)
  const chainRequest = chainConnect(proxy, authorityOf(dest))
  // The error log shows the innermost cause: the proxy is named there (a refused connect's errno kept).
  const named = (message: string) =>
    message.startsWith('chained proxy')
      ? message.replace('chained proxy', `chained proxy ${proxy.host}`)
      : `chained proxy ${proxy.host}: ${message}`
  const label = (err: GatewayError) => {
    const root = err.cause instanceof Error ? err.cause : undefined
    const cause =
      root && Object.assign(new Error(named(root.message)), { code: (root as { code?: unknown }).code })
    return new GatewayError(err.code, named(err.message), { cause })
  }
  return function openViaChain() {
    return resolveHost(host)
      .then((address) => connectTo({ address, port, connectTimeout, chainRequest }))
      .then(
        ({ socket, rest }) => {
          // Bytes past the proxy's answer (a TLS server never speaks first, so
          // they fail the handshake): the TLSSocket reads a socket's buffer first.
          if (rest !== null) socket.unshift(rest)
          return socket
        },
        (err: GatewayError) => {
          throw label(err)
        },
      )
  }
}

/** hooksWith compiles `first` ahead of the user's hooks. */
export function hooksWith(first: GatewayHooks, userHooks: readonly GatewayHooks<never>[]): HookLists {
  return compileHooks([first as GatewayHooks<never>, ...userHooks])
}
