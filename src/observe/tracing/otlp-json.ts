/**
 * Spans in the OTLP/JSON encoding (OpenTelemetry protocol, "JSON Protobuf
 * Encoding"): the proto3 JSON mapping of ExportTraceServiceRequest with
 * trace and span ids as hex strings, enums as numbers and 64-bit integers
 * as decimal strings. Spans themselves are written by span-batch.ts; this
 * is the request around them and the resource's attributes.
 */

/** SpanKind in opentelemetry/proto/trace/v1/trace.proto. */
export const SPAN_KIND_SERVER = 2
export const SPAN_KIND_CLIENT = 3

/** encodeAttributes returns a KeyValue list as JSON text. */
/** An attribute value; a number is an intValue when it is an integer, else a doubleValue. */
export type AttributeValue = string | number | boolean

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

/**
 * requestPrefix is an ExportTraceServiceRequest up to its spans: one
 * resource (the gateway) and one instrumentation scope; REQUEST_SUFFIX
 * closes it after the comma-separated spans.
 */
export function requestPrefix(resource: string, scope: string): string {
  return (
    '{"resourceSpans":[{"resource":{"attributes":' +
    resource +
    '},"scopeSpans":[{"scope":' +
    scope +
    ',"spans":['
  )
}

export const REQUEST_SUFFIX = ']}]}]}'
