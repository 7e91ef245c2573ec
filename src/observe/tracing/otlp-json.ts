/**
 * Spans in the OTLP/JSON encoding (OpenTelemetry protocol, "JSON Protobuf
 * Encoding"): the proto3 JSON mapping of ExportTraceServiceRequest with
 * trace and span ids as hex strings, enums as numbers and 64-bit integers
 * as decimal strings. A span is encoded to its JSON text when it ends, so a
 * batch is joined text, not objects kept alive until the export.
 */

/** SpanKind in opentelemetry/proto/trace/v1/trace.proto. */
export const SPAN_KIND_SERVER = 2
export const SPAN_KIND_CLIENT = 3

/** Status.StatusCode: UNSET 0 (the default, left out), ERROR 2. */
const STATUS_ERROR = 2

/** An attribute value; a number is an intValue when it is an integer, else a doubleValue. */
export type AttributeValue = string | number | boolean

/** What one finished span is. Times are epoch milliseconds with a fraction. */
export interface SpanRecord {
  traceId: string
  spanId: string
  parentSpanId: string | undefined
  name: string
  kind: number
  startMs: number
  endMs: number
  /** Flat `[key, value, key, value …]`; undefined values are left out. */
  attributes: (string | AttributeValue | undefined)[]
  /** Status ERROR with this message when set; else UNSET. */
  error: string | undefined
}

/** encodeSpan returns a Span message as OTLP/JSON text. */
export function encodeSpan(s: SpanRecord): string {
  let out =
    '{"traceId":"' +
    s.traceId +
    '","spanId":"' +
    s.spanId +
    (s.parentSpanId === undefined ? '"' : '","parentSpanId":"' + s.parentSpanId + '"') +
    ',"name":' +
    JSON.stringify(s.name) +
    ',"kind":' +
    s.kind +
    ',"startTimeUnixNano":"' +
    unixNano(s.startMs) +
    '","endTimeUnixNano":"' +
    unixNano(Math.max(s.endMs, s.startMs)) +
    '","attributes":' +
    encodeAttributes(s.attributes)
  if (s.error !== undefined)
    out += ',"status":{"code":' + STATUS_ERROR + ',"message":' + JSON.stringify(s.error) + '}'
  return out + '}'
}

/** encodeAttributes returns a KeyValue list as JSON text. */
export function encodeAttributes(flat: readonly (string | AttributeValue | undefined)[]): string {
  let out = '['
  for (let i = 0; i < flat.length; i += 2) {
    const value = flat[i + 1]
    if (value === undefined) continue
    if (out.length > 1) out += ','
    out += '{"key":' + JSON.stringify(flat[i]) + ',"value":' + anyValue(value) + '}'
  }
  return out + ']'
}

function anyValue(v: AttributeValue): string {
  switch (typeof v) {
    case 'string':
      return '{"stringValue":' + JSON.stringify(v) + '}'
    case 'boolean':
      return '{"boolValue":' + v + '}'
    default:
      return Number.isInteger(v) ? '{"intValue":"' + v + '"}' : '{"doubleValue":' + v + '}'
  }
}

/** unixNano writes epoch milliseconds as the decimal nanoseconds string (beyond 2^53, so not a number). */
export function unixNano(ms: number): string {
  let whole = Math.floor(ms)
  let ns = Math.round((ms - whole) * 1e6)
  if (ns >= 1e6) {
    whole++
    ns = 0
  }
  return ns === 0 ? whole + '000000' : whole + String(ns).padStart(6, '0')
}

/**
 * exportRequest wraps encoded spans in an ExportTraceServiceRequest: one
 * resource (the gateway) and one instrumentation scope.
 */
export function exportRequest(resource: string, scope: string, spans: readonly string[]): string {
  return (
    '{"resourceSpans":[{"resource":{"attributes":' +
    resource +
    '},"scopeSpans":[{"scope":' +
    scope +
    ',"spans":[' +
    spans.join(',') +
    ']}]}]}'
  )
}
