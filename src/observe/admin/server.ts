/**
 * The admin listener: one node:http server (the admin side is low-rate and
 * wants node:http's conveniences, unlike the proxy's own engine) that checks
 * the bearer token, finds the route and logs every action with who asked.
 * Routes: the built-in API (api.ts) and whatever observers registered
 * (routes.ts, registerAdminRoute) or this server's `register`.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import type net from 'node:net'
import { isLoopback } from '../../config/admin-schema.ts'
import type { AdminInstance } from './instance.ts'
import {
  AdminError,
  type AdminRequest,
  type AdminRoute,
  json,
  matchPath,
  registeredRoutes,
} from './routes.ts'

export interface AdminServerOptions {
  address: { host: string; port: number }
  /** Tokens by name (`default` for `admin.token`); none means open, which only loopback allows. */
  tokens: Record<string, string>
  instance: AdminInstance
  /** The built-in routes (api.ts); registered routes come after them. */
  routes: readonly AdminRoute[]
  /** Where action lines go (never a token). */
  log: (line: string) => void
}

const MAX_BODY = 64 * 1024

export class AdminServer {
  private readonly server: http.Server
  private readonly options: AdminServerOptions
  /** SHA-256 of each token: compared in constant time whatever the presented token's length. */
  private readonly digests: { name: string; digest: Buffer }[]
  private readonly own: AdminRoute[] = []

  constructor(options: AdminServerOptions) {
    this.options = options
    this.digests = Object.entries(options.tokens).map(([name, t]) => ({ name, digest: sha256(t) }))
    if (this.digests.length === 0 && !isLoopback(options.address.host))
      throw new Error(
        `admin.address ${options.address.host} is beyond loopback and no admin.token is set: refusing to start`,
      )
    this.server = http.createServer((req, res) => void this.serve(req, res))
    // Slow clients must not hold the admin listener (a probe every few seconds is its load).
    this.server.headersTimeout = 10_000
    this.server.requestTimeout = 30_000
  }

  /**
   * register adds a route to this listener only (registerAdminRoute adds
   * one to every listener). Later registrations of the same method and path
   * come after earlier ones, so the first registered wins.
   */
  register(route: AdminRoute): void {
    this.own.push(route)
  }

  listen(): Promise<void> {
    const { host, port } = this.options.address
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
  }

  /** The bound address (port 0 resolved). */
  address(): { host: string; port: number } {
    const a = this.server.address() as net.AddressInfo
    return { host: a.address, port: a.port }
  }

  /** close stops listening and ends open admin connections (event streams included). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin')
    const method = req.method ?? 'GET'
    const found = this.find(method === 'HEAD' ? 'GET' : method, url.pathname)
    if (found === undefined) return json(res, 404, { error: 'NOT_FOUND', message: 'no such admin path' })
    if (found === 'method')
      return json(res, 405, { error: 'METHOD_NOT_ALLOWED', message: `${method} not allowed` })
    const [route, params] = found
    const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`
    const identity = route.public ? 'public' : this.authenticate(req.headers.authorization)
    if (identity === undefined) {
      // RFC 6750 §3: a missing or wrong token is a 401 with the challenge.
      res.setHeader(
        'www-authenticate',
        req.headers.authorization === undefined
          ? 'Bearer realm="portcullis-admin"'
          : 'Bearer realm="portcullis-admin", error="invalid_token"',
      )
      return json(res, 401, { error: 'UNAUTHENTICATED', message: 'a valid bearer token is required' })
    }
    const who = `${identity} from ${peer}`
    const request: AdminRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      params,
      who,
      instance: this.options.instance,
      raw: req,
      body: () => readJson(req),
    }
    const logged = route.logged ?? method !== 'GET'
    try {
      await route.handle(request, res)
      if (logged) this.options.log(`portcullis admin: ${method} ${url.pathname} by ${who}: ${res.statusCode}`)
    } catch (err) {
      const e = err instanceof AdminError ? err : undefined
      if (logged)
        this.options.log(
          `portcullis admin: ${method} ${url.pathname} by ${who}: ${e?.status ?? 500} ${e?.message ?? errorText(err)}`,
        )
      if (res.headersSent) return void res.destroy()
      if (e !== undefined) json(res, e.status, { error: e.code, message: e.message })
      else json(res, 500, { error: 'INTERNAL_ERROR', message: 'the admin request failed' })
    }
  }

  private find(method: string, path: string): [AdminRoute, Record<string, string>] | 'method' | undefined {
    let pathMatched = false
    for (const list of [this.options.routes, registeredRoutes(), this.own]) {
      for (const route of list) {
        const params = matchPath(route.path, path)
        if (params === undefined) continue
        if (route.method === method) return [route, params]
        pathMatched = true
      }
    }
    return pathMatched ? 'method' : undefined
  }

  /**
   * authenticate returns the name of the token `header` carries, 'loopback'
   * when no token is configured (only allowed on loopback), or undefined.
   * Every token is compared, in constant time, so timing tells nothing.
   */
  private authenticate(header: string | undefined): string | undefined {
    if (this.digests.length === 0) return 'loopback (no token)'
    const m = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header)
    if (m === null) return undefined
    const presented = sha256(m[1]!)
    let name: string | undefined
    for (const t of this.digests) if (timingSafeEqual(presented, t.digest)) name ??= `token ${t.name}`
    return name
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        reject(new AdminError(413, 'BODY_TOO_LARGE', `the body is over ${MAX_BODY} bytes`))
        req.destroy()
      } else chunks.push(c)
    })
    req.on('error', reject)
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim()
      if (text === '') return resolve({})
      try {
        const v: unknown = JSON.parse(text)
        if (typeof v === 'object' && v !== null && !Array.isArray(v))
          return resolve(v as Record<string, unknown>)
      } catch {
        // answered below
      }
      reject(new AdminError(400, 'MALFORMED_REQUEST', 'the body must be a JSON object'))
    })
  })
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
