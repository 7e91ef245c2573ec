/**
 * A small OTLP/HTTP receiver for tests: accepts ExportTraceServiceRequest
 * posts in the JSON encoding (gzip or not) on 127.0.0.1 and keeps the spans
 * with their resource. `answers` scripts the statuses it replies with
 * (then 200 for ever), to exercise the exporter's retries.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'

export interface ReceivedSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  startTimeUnixNano: string
  endTimeUnixNano: string
  attributes: { key: string; value: Record<string, unknown> }[]
  status?: { code?: number; message?: string }
  /** The resource's attributes, flattened. */
  resource: Record<string, unknown>
}

export interface OtlpReceiver {
  url: string
  spans: ReceivedSpan[]
  /** Every request's method, path, headers and status answered. */
  posts: { path: string; headers: http.IncomingHttpHeaders; status: number }[]
  close(): Promise<void>
}

export async function startOtlpReceiver(answers: number[] = []): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = []
  const posts: OtlpReceiver['posts'] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const status = answers.shift() ?? 200
      posts.push({ path: req.url ?? '', headers: req.headers, status })
      if (status === 200) {
        let body = Buffer.concat(chunks)
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body)
        const parsed = JSON.parse(body.toString('utf8')) as {
          resourceSpans: {
            resource: { attributes: { key: string; value: Record<string, unknown> }[] }
            scopeSpans: { spans: Omit<ReceivedSpan, 'resource'>[] }[]
          }[]
        }
        for (const rs of parsed.resourceSpans) {
          const resource = Object.fromEntries(
            rs.resource.attributes.map((a) => [a.key, Object.values(a.value)[0]]),
          )
          for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, resource })
        }
      }
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(status === 200 ? '{}' : '{"code":14,"message":"try later"}')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    posts,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** attr returns the value of a span attribute (the one field of its AnyValue). */
export function attr(span: ReceivedSpan, key: string): unknown {
  const a = span.attributes.find((x) => x.key === key)
  return a === undefined ? undefined : Object.values(a.value)[0]
}
