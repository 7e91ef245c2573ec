/**
 * Tracer turns what the core publishes into OpenTelemetry spans: one SERVER
 * span per request (from `portcullis:request:end`, the Session's start and
 * timings) and one CLIENT span per upstream try (`portcullis:upstream:try`),
 * children of it. Spans are built when they end, from times the core
 * already measured, so the request path creates nothing for tracing but
 * the trace context (ids and the sampling decision), once per request.
 *
 * Propagation: the upstream gets `traceparent` naming this request's span
 * (the gateway's SERVER span, as Envoy does when it makes no child span
 * per upstream request), so the origin's spans are children of it; a
 * caller's `tracestate` passes unchanged.
 *
 * Made only when `tracing:` is configured (src/server/gateway.ts); absent,
 * nothing subscribes and the forwarding policy has no tracing hook.
 */
import { performance } from 'node:perf_hooks'
import type { TracingConfig } from '../../config/tracing-schema.ts'
import type { Session } from '../../core/session.ts'
import {
  type RequestEndMessage,
  requestEndChannel,
  type UpstreamTryMessage,
  upstreamTryChannel,
} from '../channels.ts'
import { OtlpExporter } from './otlp-exporter.ts'
import { SPAN_KIND_CLIENT, SPAN_KIND_SERVER } from './otlp-json.ts'
import { findTraceparent, newSpanId, newTraceId, parseTraceparent, ratioSampled } from './trace-context.ts'

/** The trace context of one request. */
export interface RequestTrace {
  traceId: string
  /** The request's own (SERVER) span; the upstream sees it as the parent. */
  spanId: string
  /** The caller's span, from a valid incoming traceparent. */
  parentSpanId: string | undefined
  sampled: boolean
}

export class Tracer {
  readonly exporter: OtlpExporter
  private readonly gateway: object
  private readonly config: TracingConfig
  private readonly traces = new WeakMap<object, RequestTrace>()
  private readonly onTry = (message: unknown): void => this.trySpan(message as UpstreamTryMessage)
  private readonly onEnd = (message: unknown): void => this.requestSpan(message as RequestEndMessage)

  constructor(gateway: object, config: TracingConfig, version = '', exporter?: OtlpExporter) {
    this.gateway = gateway
    this.config = config
    this.exporter = exporter ?? new OtlpExporter(config, version)
    upstreamTryChannel.subscribe(this.onTry)
    requestEndChannel.subscribe(this.onEnd)
  }

  /** sameAs tells whether this tracer already does what `config` asks (a reload keeps it). */
  sameAs(config: TracingConfig): boolean {
    return JSON.stringify(config) === JSON.stringify(this.config)
  }

  /**
   * traceparent is the field value sent upstream for `session`, given the
   * valid incoming traceparent (src/proxy/forwarding.ts calls it while
   * building the head): `00-<trace id>-<this request's span id>-<flags>`.
   */
  traceparent(session: Session, incoming: string | undefined): string {
    const t = this.traceOf(session, incoming)
    return '00-' + t.traceId + '-' + t.spanId + (t.sampled ? '-01' : '-00')
  }

  /**
   * traceOf returns the trace context of a request, deciding it on first use:
   * the caller's trace when its traceparent is valid, else a new one; and it
   * sets `session.traceId`, which the access and error logs print.
   */
  traceOf(session: Session, incoming?: string): RequestTrace {
    let t = this.traces.get(session)
    if (t !== undefined) return t
    const parent = parseTraceparent(incoming ?? findTraceparent(session.head.rawHeaders))
    const traceId = parent?.traceId ?? newTraceId()
    const sampled =
      parent !== undefined && this.config.parentBased
        ? parent.sampled
        : ratioSampled(traceId, this.config.sampleRatio)
    t = { traceId, spanId: newSpanId(), parentSpanId: parent?.spanId, sampled }
    this.traces.set(session, t)
    session.traceId = traceId
    return t
  }

  /** close unsubscribes and sends the spans still queued. */
  async close(): Promise<void> {
    upstreamTryChannel.unsubscribe(this.onTry)
    requestEndChannel.unsubscribe(this.onEnd)
    await this.exporter.close()
  }

  private trySpan(m: UpstreamTryMessage): void {
    if (m.gateway !== this.gateway) return
    const s = m.session
    const t = this.traceOf(s)
    if (!t.sampled || !this.exporter.accepts()) return
    const endMs = s.startedAt + (performance.now() - s.t0)
    const [host, port] = originHostPort(m.target)
    const w = this.exporter.writer()
    w.beginSpan(t.traceId, newSpanId(), t.spanId, s.method, SPAN_KIND_CLIENT, endMs - m.ms, endMs)
    w.attr('http.request.method', s.method)
    w.attr('server.address', host)
    w.int('server.port', port)
    w.attr('url.full', m.target + s.path)
    if (m.status > 0) w.int('http.response.status_code', m.status)
    // HTTP semantic conventions: error.type is the error's code, or the status of a 4xx/5xx answer.
    w.attr('error.type', m.code ?? (m.status >= 400 ? String(m.status) : undefined))
    if (m.attempt > 1) w.int('http.request.resend_count', m.attempt - 1)
    w.attr('portcullis.upstream', m.upstream)
    w.attr('portcullis.error.cause', causeOf(m.error))
    let error: string | undefined
    if (m.code !== undefined) error = m.error?.message ?? m.code
    else if (m.status >= 400) error = `HTTP ${m.status}`
    w.endSpan(error)
    this.exporter.added()
  }

  private requestSpan(m: RequestEndMessage): void {
    if (m.gateway !== this.gateway) return
    const s = m.session
    const t = this.traceOf(s)
    if (!t.sampled || !this.exporter.accepts()) return
    const duration = s.timings.end > 0 ? s.timings.end : performance.now() - s.t0
    const [host, port] = hostPort(s.host)
    const code = s.error?.code
    const w = this.exporter.writer()
    w.beginSpan(
      t.traceId,
      t.spanId,
      t.parentSpanId,
      s.method,
      SPAN_KIND_SERVER,
      s.startedAt,
      s.startedAt + duration,
    )
    w.attr('http.request.method', s.method)
    w.attr('url.scheme', s.destination?.scheme ?? (s.tls ? 'https' : 'http'))
    w.attr('url.path', s.path)
    w.attr('server.address', host)
    w.int('server.port', port)
    w.attr('client.address', s.clientAddress)
    w.int('client.port', s.clientPort)
    w.attr('network.protocol.version', s.head.minor === 0 ? '1.0' : '1.1')
    w.attr('user_agent.original', s.header('user-agent'))
    if (s.status > 0) w.int('http.response.status_code', s.status)
    w.attr('error.type', code ?? (s.status >= 500 ? String(s.status) : undefined))
    w.attr('portcullis.request_id', s.id)
    w.attr('portcullis.route', s.route?.name)
    w.attr('portcullis.source', s.source)
    w.attr('portcullis.upstream.target', s.target)
    if (s.attempts > 0) w.int('portcullis.attempts', s.attempts)
    w.int('portcullis.bytes_in', s.bytesIn)
    w.int('portcullis.bytes_out', s.bytesOut)
    // A server span is an error on 5xx (or no answer) only: a 4xx is the client's doing (HTTP semantic conventions).
    const failed = s.status >= 500 || (s.status === 0 && code !== undefined)
    w.endSpan(failed ? (code ?? `HTTP ${s.status}`) : undefined)
    this.exporter.added()
  }
}

/** hostPort splits a Host value (`example.com:8080`, `[::1]:80`); the port is undefined when absent. */
function hostPort(host: string): [string | undefined, number | undefined] {
  if (host === '') return [undefined, undefined]
  const close = host.lastIndexOf(']')
  const colon = host.lastIndexOf(':')
  if (colon === -1 || colon < close) return [host.startsWith('[') ? host.slice(1, close) : host, undefined]
  const port = Number(host.slice(colon + 1))
  const name = host.slice(0, colon)
  return [name.startsWith('[') ? name.slice(1, -1) : name, Number.isInteger(port) ? port : undefined]
}

/** originHostPort splits a target origin, `scheme://host:port`. */
function originHostPort(origin: string): [string | undefined, number | undefined] {
  const start = origin.indexOf('://')
  return hostPort(start === -1 ? origin : origin.slice(start + 3))
}

/** causeOf names what lies under an upstream failure (errno, TLS reason) for the span. */
function causeOf(error: { cause?: unknown } | undefined): string | undefined {
  const cause = error?.cause as { code?: unknown; message?: unknown } | undefined
  if (cause === undefined || cause === null) return undefined
  if (typeof cause.code === 'string') return cause.code
  return typeof cause.message === 'string' ? cause.message : undefined
}
