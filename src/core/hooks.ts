/**
 * The phase model (docs/architecture.md): typed hooks a user or a built-in
 * module implements. Every phase is optional; a phase nobody hooks costs
 * nothing on the request path. A hook may return synchronously, and then no
 * promise is created; only hooks that return a promise are awaited.
 */
import type { Duplex, Readable } from 'node:stream'
import type { GatewayError } from './errors.ts'
import type { HeaderList } from './header-list.ts'
import type { Session } from './session.ts'

/** A response the gateway makes itself (a hook's answer, a fixed route, a static file, an error). */
export interface GatewayResponse {
  status: number
  headers?: Record<string, string> | readonly (readonly [string, string])[]
  /**
   * A string or Buffer is sent with Content-Length. A Readable is streamed
   * with backpressure: with Content-Length when `length` is given, else
   * chunked (close-delimited for HTTP/1.0 clients). It is destroyed if the
   * client leaves, and for HEAD requests.
   */
  body?: string | Buffer | Readable
  /** The exact byte length of a Readable body, when known. */
  length?: number
}

/** What a request-phase hook decides: let the request go on, or answer it now. */
export type HookResult =
  { readonly kind: 'continue' } | { readonly kind: 'respond'; readonly response: GatewayResponse }

/** The `continue` result. Returning `undefined` means the same. */
export const CONTINUE: HookResult = Object.freeze({ kind: 'continue' })

/** respond builds the result that answers the request without going upstream. */
export function respond(
  status: number,
  body?: string | Buffer,
  headers?: GatewayResponse['headers'],
): HookResult {
  return { kind: 'respond', response: { status, body, headers } }
}

export type MaybePromise<T> = T | Promise<T>
export type HookReturn = MaybePromise<HookResult | undefined | void>

/** The head that will be sent upstream; hooks may rewrite it. */
export interface UpstreamRequest {
  method: string
  /** Origin-form target: path and query. */
  path: string
  /** set/append throw a TypeError on a name that is not a token or a value with CR, LF or NUL. */
  headers: HeaderList
}

/** A response head on its way to the client; hooks may rewrite it. */
export interface ResponseHeadView {
  status: number
  reason: string
  /** set/append throw a TypeError on a name that is not a token or a value with CR, LF or NUL. */
  headers: HeaderList
  /**
   * A stream every body byte passes through on its way to the client (the
   * `onResponseBody` phase), e.g. a compressor. Setting it drops the
   * upstream's Content-Length: the body is re-framed as chunked.
   * @experimental
   */
  bodyTransform?: Duplex
}

/** An upstream target, as `selectUpstream` sees it. */
export interface TargetInfo {
  /** The configured URL. */
  readonly url: string
  /** `scheme://host:port`. */
  readonly origin: string
  readonly weight: number
}

/**
 * A WebSocket message as `onWebSocketMessage` sees it: whole (fragments
 * joined), unmasked, text decoded as UTF-8. `direction` is who sent it.
 * @experimental
 */
export type WebSocketMessage =
  | { readonly direction: 'client' | 'server'; readonly type: 'text'; readonly data: string }
  | { readonly direction: 'client' | 'server'; readonly type: 'binary'; readonly data: Buffer }

/**
 * What an `onWebSocketMessage` hook decides: undefined sends the message on
 * (as the previous hook left it), a string replaces it with a text message,
 * a Buffer with a binary one, `DROP_MESSAGE` drops it.
 * @experimental
 */
export type WebSocketMessageResult = string | Buffer | { readonly kind: 'drop' } | undefined | void

/** The result that drops a WebSocket message. @experimental */
export const DROP_MESSAGE: { readonly kind: 'drop' } = Object.freeze({ kind: 'drop' })

/** A client connection, as `onAccept` sees it. */
export interface ConnectionInfo {
  remoteAddress: string
  remotePort: number
  localPort: number
  tls: boolean
}

/**
 * GatewayHooks are the phases of a request, in order. Each documents when it
 * runs, what happens when it is absent, and what its result means.
 */
export interface GatewayHooks<Ctx extends object = Record<string, unknown>> {
  /**
   * onAccept runs once per client connection, before any byte is read.
   * Default: accept. Return false to close the connection at once.
   */
  onAccept?(connection: ConnectionInfo): boolean
  /**
   * onRequestHead runs when a request head is parsed and valid, before routing.
   * Default: continue. `respond(…)` answers without routing (limits, health).
   */
  onRequestHead?(session: Session<Ctx>): HookReturn
  /**
   * onRequest runs after routing, for requests that matched a route.
   * Default: continue. `respond(…)` answers without going upstream (auth, rate limits).
   */
  onRequest?(session: Session<Ctx>): HookReturn
  /**
   * onConnect runs for a CONNECT on the forward proxy (src/forward), after
   * onRequest, when TLS interception (`forward.mitm`) is configured.
   * Default: `forward.mitm.hosts` and `passthrough` decide. Return
   * 'intercept' or 'tunnel' to decide for this CONNECT (`session.destination`
   * names it), or undefined to let the next hook or the patterns decide.
   * @experimental
   */
  onConnect?(session: Session<Ctx>): 'intercept' | 'tunnel' | undefined
  /**
   * selectUpstream runs when a request is about to go upstream, before the
   * balancer. Default: the upstream's balancer picks. Return one of `targets`
   * to use it instead, or undefined to let the balancer pick.
   */
  selectUpstream?(session: Session<Ctx>, targets: readonly TargetInfo[]): TargetInfo | undefined
  /**
   * onUpstreamRequest runs after a target is chosen, before the head is sent.
   * Default: the head as the gateway built it (hop-by-hop removed, forwarding headers set).
   * Mutate `request` to rewrite it; the result is awaited if it is a promise.
   */
  onUpstreamRequest?(session: Session<Ctx>, request: UpstreamRequest): MaybePromise<void>
  /**
   * onResponse runs when an upstream's response head arrived, before it is
   * sent to the client. It does not run for responses the gateway makes itself
   * (respond, static, redirect, errors): those are built by hooks already.
   * Default: sent as received minus hop-by-hop fields. Mutate `response` to
   * rewrite status or headers, or set `bodyTransform` to filter the body.
   */
  onResponse?(session: Session<Ctx>, response: ResponseHeadView): MaybePromise<void>
  /**
   * onError runs when the request failed before a response head was sent.
   * Default: a short error body with the code and request id.
   * Return a response to send instead, or undefined for the default.
   */
  onError?(session: Session<Ctx>, error: GatewayError): GatewayResponse | undefined
  /**
   * onWebSocketMessage runs for each message of a WebSocket the route
   * upgraded (reverse, forward and intercepted alike), in order per
   * direction: a later message waits while a hook awaits. Control frames
   * (ping, pong, close) pass untouched. With such a hook the gateway reads
   * the frames (RFC 6455): the upgrade offers only permessage-deflate (RFC
   * 7692), which the gateway inflates for the hook and deflates again, and a
   * message over `limits.maxWebSocketMessage` (inflated) closes the
   * connection with 1009. A hook that edits a binary message's Buffer in
   * place must return it: undefined sends the message as it came.
   * Default (no hook): the upgraded connection is a byte pipe.
   * Return a replacement, `DROP_MESSAGE`, or undefined to send it on.
   * A hook that throws closes both sides with 1011.
   * @experimental
   */
  onWebSocketMessage?(session: Session<Ctx>, message: WebSocketMessage): MaybePromise<WebSocketMessageResult>
  /** onLog runs once after the request ended, successfully or not. It cannot change anything. */
  onLog?(session: Session<Ctx>): void
}

/** HookLists are the hooks of each phase, compiled from one or more GatewayHooks. */
export interface HookLists {
  onAccept: NonNullable<GatewayHooks['onAccept']>[]
  onRequestHead: NonNullable<GatewayHooks['onRequestHead']>[]
  onRequest: NonNullable<GatewayHooks['onRequest']>[]
  onConnect: NonNullable<GatewayHooks['onConnect']>[]
  selectUpstream: NonNullable<GatewayHooks['selectUpstream']>[]
  onUpstreamRequest: NonNullable<GatewayHooks['onUpstreamRequest']>[]
  onResponse: NonNullable<GatewayHooks['onResponse']>[]
  onError: NonNullable<GatewayHooks['onError']>[]
  onLog: NonNullable<GatewayHooks['onLog']>[]
  onWebSocketMessage: NonNullable<GatewayHooks['onWebSocketMessage']>[]
  /**
   * The route's action when a built-in module performs it (static files,
   * redirects): it answers once every onRequest hook has let the request
   * through, so a user's auth hook guards it too. Empty for upstream and
   * respond routes, which the connection handles itself.
   */
  action: NonNullable<GatewayHooks['onRequest']>[]
}

/** compileHooks groups hook objects by phase, keeping their order. */
export function compileHooks(all: readonly GatewayHooks<never>[]): HookLists {
  const lists: HookLists = {
    onAccept: [],
    onRequestHead: [],
    onRequest: [],
    onConnect: [],
    selectUpstream: [],
    onUpstreamRequest: [],
    onResponse: [],
    onError: [],
    onLog: [],
    onWebSocketMessage: [],
    action: [],
  }
  for (const h of all as readonly GatewayHooks[]) {
    for (const phase of Object.keys(lists) as (keyof HookLists)[]) {
      if (phase === 'action') continue // not a user phase: set by the runtime from route modules
      const fn = h[phase]
      if (typeof fn === 'function') (lists[phase] as unknown[]).push(fn.bind(h))
    }
  }
  return lists
}

type RequestHook = (session: Session) => HookReturn

/**
 * runRequestHooks runs `hooks` in order until one responds. Calls `done`
 * synchronously when every hook returned synchronously. A thrown error or
 * rejected promise reaches `done` as `err`.
 */
export function runRequestHooks(
  hooks: readonly RequestHook[],
  session: Session,
  done: (err: unknown, result: HookResult | undefined) => void,
  from = 0,
): void {
  for (let i = from; i < hooks.length; i++) {
    let r: HookReturn
    try {
      r = hooks[i]!(session)
    } catch (err) {
      done(err, undefined)
      return
    }
    if (r instanceof Promise) {
      r.then(
        function hookSettled(v) {
          if (v && v.kind === 'respond') done(undefined, v)
          else runRequestHooks(hooks, session, done, i + 1)
        },
        function hookRejected(err) {
          done(err, undefined)
        },
      )
      return
    }
    if (r && r.kind === 'respond') {
      done(undefined, r)
      return
    }
  }
  done(undefined, undefined)
}

type MutateHook<A> = (session: Session, arg: A) => MaybePromise<void>

/** runMutateHooks runs hooks that rewrite `arg`, awaiting only those that return promises. */
export function runMutateHooks<A>(
  hooks: readonly MutateHook<A>[],
  session: Session,
  arg: A,
  done: (err: unknown) => void,
  from = 0,
): void {
  for (let i = from; i < hooks.length; i++) {
    let r: MaybePromise<void>
    try {
      r = hooks[i]!(session, arg)
    } catch (err) {
      done(err)
      return
    }
    if (r instanceof Promise) {
      r.then(
        function hookSettled() {
          runMutateHooks(hooks, session, arg, done, i + 1)
        },
        function hookRejected(err) {
          done(err)
        },
      )
      return
    }
  }
  done(undefined)
}
