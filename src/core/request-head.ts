/**
 * RequestHead: a parsed HTTP/1.1 request head, as the Session carries it.
 * The strict parser in http1/request-head.ts fills it in; it lives in core so
 * that core (Session) does not import the engine (which imports core).
 */

/** A parsed request head. Field names keep their case; `rawHeaders` is `[name, value, …]`. */
export class RequestHead {
  method = ''
  /** The request-target in origin-form (`/path?query`), `*`, or authority-form for CONNECT. */
  target = ''
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor = 1
  /** Set when the target was absolute-form: its authority replaces Host (RFC 9112 §3.2.2). */
  absoluteAuthority: string | undefined = undefined
  /** The scheme of an absolute-form target. */
  absoluteScheme: string | undefined = undefined
  /** True when the body is chunked; false for Content-Length or no body. */
  chunked = false
  keepAlive = true
  /** The protocol asked for by `Connection: upgrade` + `Upgrade`, else undefined. */
  upgradeProtocol: string | undefined = undefined
  expectContinue = false
  /** Lowercased Connection options other than close/keep-alive/upgrade: more hop-by-hop fields. */
  connectionOptions: string[] | undefined = undefined
  /** Bytes the head occupied, including leading empty lines. */
  size = 0
  // The fields as parsed, and the framing ones among them (http1/fields.ts FieldSink).
  rawHeaders: string[] = []
  contentLength = -1
  contentLengthCount = 0
  transferEncoding: string | undefined = undefined
  connection: string | undefined = undefined
  host: string | undefined = undefined
  hostCount = 0
  upgrade: string | undefined = undefined
  expect: string | undefined = undefined
}
