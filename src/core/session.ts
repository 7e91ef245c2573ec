/**
 * A Session is one request: its head, its typed per-request context, the
 * route and target chosen for it, what happened and how long it took. Hooks
 * see Sessions, never sockets: the engine under a Session can change without
 * touching a feature.
 */
import type { Duplex } from 'node:stream'
import type { RequestHead } from './request-head.ts'
import { wallTime } from './clock.ts'
import type { GatewayError } from './errors.ts'
import { HeaderList } from './header-list.ts'

/** The params of every session whose route captured none: one frozen object, no allocation. */
export const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({})

/** The route a session matched, as hooks and logs see it. */
export interface RouteInfo {
  /** The configured name, or `route-N` by position. */
  readonly name: string
  readonly upstream: string | undefined
}

/** Milliseconds since the session started (performance.now() based), 0 when not reached. */
export interface SessionTimings {
  /** Head parsed (includes the time the head took to arrive). */
  head: number
  /** An upstream connection was ready (new or reused). */
  upstreamConnected: number
  /** The upstream response head arrived. */
  upstreamHead: number
  /** The last response byte was handed to the socket. */
  end: number
}

/**
 * Which door a request came through (ARCHITECTURE.md, "One Session, three
 * sources"): a reverse-proxy listener, the forward proxy (absolute-form or
 * CONNECT), or a request inside a TLS connection the forward proxy intercepts.
 */
export type SessionSource = 'reverse' | 'forward' | 'mitm'

/** Where a forward-proxied request goes: the authority the client named. */
export interface Destination {
  /** Host name or IP literal (IPv6 without brackets), lowercased. */
  readonly host: string
  readonly port: number
  /** `http` or `https` (intercepted TLS, or an absolute-form https target). */
  readonly scheme: 'http' | 'https'
}

/**
 * A whole-body rewrite of a request body (rewriteRequestBody in
 * src/forward/whole-body.ts sets it from a hook): the exchange reads the
 * whole body, up to `maxSize` (more is 413), hands it to `run` and sends
 * what that resolves to with its own Content-Length (src/proxy/request-body.ts).
 * @experimental
 */
export interface RequestBodyRewrite {
  /** Largest body read, in bytes as received. */
  readonly maxSize: number
  /** The Content-Encoding to declare for the result; undefined: none (sent unencoded). */
  readonly encoding: string | undefined
  /** The new body from the body as received; rejects with a GatewayError (400) when it does not decode. */
  run(body: Buffer): Promise<Buffer>
}

export class Session<Ctx extends object = Record<string, unknown>> {
  /** The request id: the client's `x-request-id` when sane, else a new UUID. */
  id: string
  readonly head: RequestHead
  /** Per-request state for hooks; typed through GatewayHooks<Ctx>. */
  ctx: Ctx
  readonly clientAddress: string
  readonly clientPort: number
  /** Whether the client connection is TLS. */
  readonly tls: boolean
  /** Wall-clock start, epoch ms. */
  readonly startedAt: number
  /** performance.now() at start; timings are relative to it. */
  readonly t0: number
  readonly timings: SessionTimings = { head: 0, upstreamConnected: 0, upstreamHead: 0, end: 0 }
  route: RouteInfo | undefined = undefined
  /**
   * Path parameters the matched route captured (`match.pattern: /users/:id`
   * gives `{ id }`, `match.regex` its groups). Shared and frozen when none.
   */
  params: Readonly<Record<string, string>> = NO_PARAMS
  /** The upstream target URL origin the request went to, when it went upstream. */
  target: string | undefined = undefined
  /** The response status sent to the client (0 until a head was sent). */
  status = 0
  /** Request body bytes received from the client. */
  bytesIn = 0
  /** Response bytes (head and body) written to the client. */
  bytesOut = 0
  /** Set when the request failed; its code goes to logs and metrics. */
  error: GatewayError | undefined = undefined
  /** The W3C trace id this request is part of. */
  traceId: string | undefined = undefined
  /** The number of upstream attempts made (retries included). */
  attempts = 0
  /**
   * Who the request authenticated as, set by auth modules (an API key's or
   * Basic user's consumer, a JWT's `sub`); rate limits may key on it.
   */
  consumer: string | undefined = undefined
  /** The verified JWT claims, set by the jwt module; rate limits may key on them (`jwt.CLAIM`). */
  claims: Readonly<Record<string, unknown>> | undefined = undefined
  /**
   * Response fields policy modules add to the proxied response, flat
   * `[name, value, …]` (RateLimit headers); undefined when none.
   */
  policyFields: string[] | undefined = undefined
  /** The door the request came through; 'reverse' unless the forward proxy set it. */
  source: SessionSource = 'reverse'
  /** For forward and mitm sessions, the destination the client named; undefined for reverse ones. */
  destination: Destination | undefined = undefined
  /** A whole-body rewrite of the request body a hook asked for (rewriteRequestBody); undefined: streamed as received. */
  requestBody: RequestBodyRewrite | undefined = undefined
  /**
   * A streaming transform of the request body a hook asked for
   * (transformRequestBody in src/forward/stream-body.ts, from onRequestHead
   * or onRequest): the body, chunked framing removed, is written into it and
   * what it emits goes upstream chunked (src/proxy/request-transform.ts).
   * undefined: streamed as received.
   * @experimental
   */
  requestTransform: Duplex | undefined = undefined
  /**
   * Called with each request body slice as it arrives from the client
   * (chunked framing removed, before any rewrite), for captures such as
   * HarRecorder. The slice is only valid during the call (read buffers are
   * reused): copy what you keep. It must not throw. To add a tap, wrap the
   * one already set. undefined: nothing is called.
   * @experimental
   */
  requestBodyTap: ((chunk: Buffer) => void) | undefined = undefined
  /**
   * The origin's 101 header fields (name, value, name, value …) once the
   * request was upgraded: a 101 skips the onResponse hooks, so its head is
   * seen here (a HAR entry's response headers).
   */
  upgradeHeaders: readonly string[] | undefined = undefined
  private headerView: HeaderList | undefined = undefined

  constructor(head: RequestHead, clientAddress: string, clientPort: number, tls: boolean, t0: number) {
    this.head = head
    this.clientAddress = clientAddress
    this.clientPort = clientPort
    this.tls = tls
    this.t0 = t0
    this.startedAt = wallTime(t0)
    this.id = ''
    this.ctx = {} as Ctx
  }

  get method(): string {
    return this.head.method
  }

  /** The path of the request target, without the query. */
  get path(): string {
    const t = this.head.target
    const q = t.indexOf('?')
    return q === -1 ? t : t.slice(0, q)
  }

  /** The query string without `?`, or '' when none. */
  get query(): string {
    const t = this.head.target
    const q = t.indexOf('?')
    return q === -1 ? '' : t.slice(q + 1)
  }

  /**
   * How a forward proxy's request came: 'forward' (plain,
   * or the CONNECT itself) or 'mitm' (inside intercepted TLS); undefined for
   * a reverse proxy's. The same as `source`, without 'reverse'.
   */
  get via(): 'forward' | 'mitm' | undefined {
    return this.source === 'reverse' ? undefined : this.source
  }

  /** The Host the client asked for (from an absolute-form target when there was one). */
  get host(): string {
    return this.head.host ?? ''
  }

  /** The request's header fields as received (read-only by convention). */
  get headers(): HeaderList {
    this.headerView ??= new HeaderList(this.head.rawHeaders)
    return this.headerView
  }

  /** header returns the first value of a request header, case-insensitively. */
  header(name: string): string | undefined {
    return this.headers.get(name)
  }
}
