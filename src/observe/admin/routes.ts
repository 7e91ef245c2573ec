/**
 * What an admin route is, and the list other observers add theirs to
 * (`registerAdminRoute`): the dashboard page, later issues' actions (cache
 * purge). The admin listener (server.ts) serves the built-in API routes
 * (api.ts) and every route registered here, behind the same bearer token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AdminInstance } from './instance.ts'

/** One request to the admin listener, as a route's handler sees it. */
export interface AdminRequest {
  readonly method: string
  /** The path, without the query. */
  readonly path: string
  readonly query: URLSearchParams
  /** The values of the route's `:name` segments (and `*` for the rest of a `/*` path). */
  readonly params: Readonly<Record<string, string>>
  /** Who asked, for action logs: `token NAME from ADDRESS:PORT` (or `loopback from …` when no token is set). */
  readonly who: string
  /** The instance the listener serves: its state, metrics, actions, worker topics. */
  readonly instance: AdminInstance
  /** The raw request, for streaming handlers (server-sent events). */
  readonly raw: IncomingMessage
  /** body reads the request body as JSON (at most 64 kB); `{}` when empty; rejects with an AdminError(400) when malformed. */
  body(): Promise<Record<string, unknown>>
}

/**
 * An admin route. `path` is exact (`/api/routes`), may hold `:name`
 * segments (`/api/routes/:name`), or end with `/*` to take every path
 * below it (`/dashboard/*`). A handler answers through `res` (json() and
 * text() help) and may stay open (server-sent events); a thrown AdminError
 * answers its status, anything else a 500 with no detail.
 */
export interface AdminRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  /** Served without a token (liveness and readiness probes). Default false. */
  public?: boolean
  /** Logged with who asked (actions). Default: every method but GET. */
  logged?: boolean
  handle(req: AdminRequest, res: ServerResponse): void | Promise<void>
}

/** An answer with a status a route throws: `{ "error": code, "message": … }`. */
export class AdminError extends Error {
  readonly status: number
  readonly code: string
  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

const registered: AdminRoute[] = []

/**
 * registerAdminRoute adds a route to every admin listener started after the
 * call (and to the running ones' next lookups: the list is read per
 * request). Call it at module load in the module that owns the page.
 */
export function registerAdminRoute(route: AdminRoute): void {
  registered.push(route)
}

/** registeredRoutes is the list registerAdminRoute fills, in order. */
export function registeredRoutes(): readonly AdminRoute[] {
  return registered
}

/** json answers `value` as JSON with `status`; no caching (the state is live). */
export function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value, null, 2) + '\n'
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}

/** text answers `body` with a content type (default text/plain). */
export function text(
  res: ServerResponse,
  status: number,
  body: string,
  type = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}

/** matchPath returns the params of `pattern` for `path`, or undefined when it does not match. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/')
  const got = path.split('/')
  const params: Record<string, string> = {}
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!
    if (w === '*' && i === want.length - 1) {
      params['*'] = got.slice(i).join('/')
      return params
    }
    const g = got[i]
    if (g === undefined) return undefined
    if (w.startsWith(':')) {
      if (g === '') return undefined
      try {
        params[w.slice(1)] = decodeURIComponent(g)
      } catch {
        return undefined
      }
    } else if (w !== g) return undefined
  }
  return got.length === want.length ? params : undefined
}
