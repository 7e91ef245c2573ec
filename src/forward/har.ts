/**
 * HAR 1.2 capture (http://www.softwareishard.com/blog/har-12-spec/): a
 * recorder whose hooks note each request and response, and which writes a
 * file a browser's devtools opens (Network, "Import HAR"), with what
 * Chromium's own export carries. Authorization, Proxy-Authorization, Cookie
 * and Set-Cookie values are redacted by default. Bounded: at most
 * `maxEntries` entries are kept (the oldest dropped), and per entry:
 *
 * - Response bodies up to `maxBodySize` bytes (`content.text`, decoded from
 *   gzip/deflate/br, base64 unless text; a longer body is cut and says so in
 *   `content.comment`). With capture on, a captured response is re-framed
 *   chunked (its bytes pass through a stream).
 * - Request bodies up to `maxBodySize` bytes (`request.postData`, har-body.ts):
 *   tapped as they arrive from the client (`session.requestBodyTap`), so what
 *   goes upstream is unchanged and a longer body is never held whole.
 * - With `webSocketMessages` (the default), a WebSocket's messages, at most
 *   `maxWebSocketMessages`, each cut at `maxBodySize` bytes, as Chromium's
 *   `_webSocketMessages` (har-websocket.ts). This adds an onWebSocketMessage
 *   hook: the gateway then reads every frame of every WebSocket (see the
 *   hook's documentation). Off, an upgraded connection stays a byte pipe and
 *   its entry has `_resourceType: "websocket"` without messages.
 *
 * `maxBodySize: 0` captures no bodies (sizes only, which HAR allows) and
 * WebSocket messages without their data. A WebSocket entry is added when
 * the connection closes; one still open when the HAR is written is in it
 * with the messages so far (`comment` says it is open).
 *
 * A hook sees what hooks before it left: give `har.hooks` last to record
 * requests, responses and messages as they were sent on.
 *
 * ```ts
 * const har = new HarRecorder()
 * const gw = await createGateway(config, { hooks: [myHooks, har.hooks] })
 * …
 * await har.write('capture.har')
 * ```
 * @experimental
 */
import { writeFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { authorityOf } from './authority.ts'
import type { GatewayHooks } from '../core/hooks.ts'
import type { Session, SessionSource } from '../core/session.ts'
import { BodyCapture, type HarHeader, requestPostData, responseContent, tapTransform } from './har-body.ts'
import { isWebSocket, WebSocketCapture } from './har-websocket.ts'

const REDACTED = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie'])

/** Options of HarRecorder. */
export interface HarOptions {
  /** Entries kept, oldest dropped first; default 10,000. */
  maxEntries?: number
  /** Header names (lowercase) whose values are replaced by `[redacted]`. */
  redact?: readonly string[]
  /** Body bytes kept per request, per response and per WebSocket message; default 64 KiB; 0: none. */
  maxBodySize?: number
  /** Record WebSocket messages (`_webSocketMessages`); default true. */
  webSocketMessages?: boolean
  /** WebSocket messages kept per connection (the first ones); default 1,000. */
  maxWebSocketMessages?: number
  /** Record only sessions from these sources (`forward`, `mitm`, `reverse`); default all. */
  sources?: readonly SessionSource[]
}

/** An entry as built here: only its start is read back (to sort). */
type HarEntry = { startedDateTime: string } & Record<string, unknown>

interface HarResponseHead {
  status: number
  reason: string
  headers: HarHeader[]
}

export class HarRecorder {
  /** The hooks to give the gateway (alone or with others). */
  readonly hooks: GatewayHooks
  private readonly entries: HarEntry[] = []
  private readonly responses = new WeakMap<Session, HarResponseHead>()
  private readonly bodies = new WeakMap<Session, BodyCapture>()
  private readonly requestBodies = new WeakMap<Session, BodyCapture>()
  /** WebSocket upgrades not logged yet (open, or refused and about to be logged): bounded by open connections. */
  private readonly sockets = new Map<Session, WebSocketCapture>()
  private readonly max: number
  private readonly maxBody: number
  private readonly maxMessages: number
  private readonly redact: ReadonlySet<string>

  /** Grows with each exchange or WebSocket message recorded: whoever writes the file periodically skips a write when it has not moved. */
  changes = 0

  constructor(options: HarOptions = {}) {
    this.max = options.maxEntries ?? 10_000
    this.maxBody = options.maxBodySize ?? 64 * 1024
    this.maxMessages = options.maxWebSocketMessages ?? 1000
    this.redact = new Set(options.redact ?? REDACTED)
    const self = this
    const only = options.sources === undefined ? undefined : new Set(options.sources)
    const skip = (session: Session): boolean => only !== undefined && !only.has(session.source)
    const hooks: GatewayHooks = {
      onRequestHead: function harRequestHead(session) {
        if (skip(session)) return
        self.requestStarted(session)
      },
      onResponse: function harResponse(session, res) {
        if (skip(session)) return
        self.responses.set(session, {
          status: res.status,
          reason: res.reason,
          headers: self.pairs(res.headers.raw),
        })
        // Another hook's body transform comes first: only the head is recorded then.
        if (
          self.maxBody > 0 &&
          res.bodyTransform === undefined &&
          session.method !== 'HEAD' &&
          session.method !== 'CONNECT'
        ) {
          const c = new BodyCapture(self.maxBody)
          self.bodies.set(session, c)
          res.bodyTransform = tapTransform(c)
        }
      },
      onLog: function harLog(session) {
        if (skip(session)) return
        self.changes++
        self.add(session)
      },
    }
    if (options.webSocketMessages ?? true)
      hooks.onWebSocketMessage = function harWebSocketMessage(session, message) {
        if (skip(session)) return
        let c = self.sockets.get(session)
        if (c === undefined) self.sockets.set(session, (c = self.newSocket()))
        self.changes++
        c.add(message)
      }
    this.hooks = hooks
  }

  /**
   * The HAR document of what was recorded so far, with the WebSockets still
   * open, sorted by start as the spec prefers (an entry is added when its
   * exchange ends: a long one after shorter ones that began later).
   */
  toJSON(): object {
    const entries = [...this.entries]
    for (const session of this.sockets.keys())
      if (session.status === 101) entries.push(this.entry(session, 'WebSocket open when written'))
    // ISO 8601 strings of one format sort as their times do; sort is stable.
    entries.sort((a, b) =>
      a.startedDateTime < b.startedDateTime ? -1 : a.startedDateTime > b.startedDateTime ? 1 : 0,
    )
    return {
      log: {
        version: '1.2',
        creator: { name: 'portcullis', version: '0.1' },
        pages: [],
        entries,
      },
    }
  }

  /** write saves the HAR document to `path`. */
  write(path: string): Promise<void> {
    return writeFile(path, JSON.stringify(this.toJSON(), null, 1))
  }

  /** requestStarted taps the request body, and notes a WebSocket upgrade. */
  private requestStarted(session: Session): void {
    const h = session.head
    if (this.maxBody > 0 && (h.contentLength > 0 || h.chunked)) {
      const c = new BodyCapture(this.maxBody)
      // Bytes held before this hook ran (an earlier hook was async) are not seen: said so.
      c.missed = session.bytesIn
      c.size = session.bytesIn
      this.requestBodies.set(session, c)
      const before = session.requestBodyTap
      session.requestBodyTap =
        before === undefined
          ? c.add
          : (chunk) => {
              before(chunk)
              c.add(chunk)
            }
    }
    if (isWebSocket(h.upgradeProtocol) && !this.sockets.has(session))
      this.sockets.set(session, this.newSocket())
  }

  private newSocket(): WebSocketCapture {
    return new WebSocketCapture(this.maxMessages, this.maxBody)
  }

  private add(session: Session): void {
    if (session.method === 'CONNECT') return // the requests inside are the entries
    this.entries.push(this.entry(session, undefined))
    this.sockets.delete(session)
    if (this.entries.length > this.max) this.entries.shift()
  }

  /** entry: the HAR entry of a session (`note` goes to its comment). */
  private entry(session: Session, note: string | undefined): HarEntry {
    const res = this.responses.get(session)
    const t = session.timings
    const http = session.head.minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0'
    const wait = t.upstreamHead > 0 ? t.upstreamHead - (t.upstreamConnected || 0) : 0
    // An upgrade's 101 skips onResponse hooks: its head is on the session.
    const status = res?.status ?? session.status
    // Chromium's entry for a WebSocket: a ws: or wss: URL and the resource type, upgraded or not.
    const websocket = isWebSocket(session.head.upgradeProtocol)
    const ws = session.status === 101 ? this.sockets.get(session) : undefined
    const headers = this.pairs(session.head.rawHeaders)
    const body = this.requestBodies.get(session)
    const comment = [session.error?.code, ws?.note(), note].filter((c) => c !== undefined).join('; ')
    const end = t.end > 0 ? t.end : performance.now() - session.t0
    return {
      startedDateTime: new Date(session.startedAt).toISOString(),
      time: end,
      request: {
        method: session.method,
        url: websocket ? urlOf(session).replace(/^http/, 'ws') : urlOf(session),
        httpVersion: http,
        cookies: [],
        headers,
        queryString: queryOf(session.query),
        ...(body !== undefined && body.size > 0 && { postData: requestPostData(body, headers) }),
        headersSize: -1,
        bodySize: session.bytesIn,
      },
      response: {
        status,
        statusText: res?.reason ?? (status === 101 ? 'Switching Protocols' : ''),
        httpVersion: 'HTTP/1.1',
        cookies: [],
        headers:
          res?.headers ?? (session.upgradeHeaders === undefined ? [] : this.pairs(session.upgradeHeaders)),
        content: responseContent(this.bodies.get(session), res?.headers),
        redirectURL: '',
        headersSize: -1,
        bodySize: -1,
      },
      cache: {},
      timings: { send: 0, wait: Math.max(0, wait), receive: Math.max(0, end - (t.upstreamHead || end)) },
      ...(comment !== '' && { comment }),
      ...(websocket && { _resourceType: 'websocket' }),
      ...(ws !== undefined &&
        this.hooks.onWebSocketMessage !== undefined && { _webSocketMessages: ws.messages }),
    }
  }

  private pairs(raw: readonly string[]): HarHeader[] {
    const out: HarHeader[] = []
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!
      out.push({ name, value: this.redact.has(name.toLowerCase()) ? '[redacted]' : raw[i + 1]! })
    }
    return out
  }
}

function urlOf(session: Session): string {
  const d = session.destination
  if (d === undefined) return `${session.tls ? 'https' : 'http'}://${session.host}${session.head.target}`
  const port = (d.scheme === 'https' && d.port === 443) || (d.scheme === 'http' && d.port === 80)
  const authority = port ? (d.host.includes(':') ? `[${d.host}]` : d.host) : authorityOf(d)
  return `${d.scheme}://${authority}${session.head.target}`
}

function queryOf(query: string): HarHeader[] {
  if (query === '') return []
  return [...new URLSearchParams(query)].map(([name, value]) => ({ name, value }))
}
