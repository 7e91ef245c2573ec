/**
 * OtlpExporter sends encoded spans to a collector over OTLP/HTTP (JSON) in
 * batches: a batch leaves when it is full or `batch.delay` after its first
 * span, one export at a time. A collector that answers 429, 502, 503 or
 * 504, or cannot be reached, gets the batch again after a backoff (OTLP/HTTP
 * "Retryable Response Codes", honouring Retry-After); spans beyond
 * `batch.maxQueue` are dropped and counted, so a dead collector costs
 * bounded memory, never the requests.
 */
import diagnostics from 'node:diagnostics_channel'
import http from 'node:http'
import https from 'node:https'
import { gzip } from 'node:zlib'
import type { TracingConfig } from '../../config/tracing-schema.ts'
import { encodeAttributes, REQUEST_SUFFIX, requestPrefix } from './otlp-json.ts'
import { SpanBatch } from './span-batch.ts'

/** Published when an export fails for good (dropped) or will be retried; for the error log and metrics. */
export interface TracingExportMessage {
  endpoint: string
  spans: number
  /** The collector's status, 0 when it was not reached. */
  status: number
  retrying: boolean
  error: string
}

export const tracingExportChannel = diagnostics.channel('portcullis:tracing:export-failure')

/** Counts since start, for the admin API and tests. */
export interface ExporterStats {
  exported: number
  dropped: number
  failedExports: number
}

const RETRYABLE = new Set([429, 502, 503, 504])
const MAX_ATTEMPTS = 5

export class OtlpExporter {
  readonly stats: ExporterStats = { exported: 0, dropped: 0, failedExports: 0 }
  /** Full batches waiting to be sent, oldest first. */
  private readonly full: SpanBatch[] = []
  /** The batch spans are added to. */
  private current: SpanBatch | undefined = undefined
  /** Spans in `full` and `current`. */
  private queued = 0
  private readonly prefix: Buffer
  private readonly suffix = Buffer.from(REQUEST_SUFFIX)
  private timer: NodeJS.Timeout | undefined = undefined
  private sending: Promise<void> | undefined = undefined
  private closed = false
  private readonly url: URL
  private readonly config: TracingConfig
  private readonly resource: string
  private readonly scope: string
  private readonly agent: http.Agent

  constructor(config: TracingConfig, version: string) {
    this.config = config
    this.url = tracesUrl(config.endpoint)
    const attributes: string[] = ['service.name', config.serviceName]
    for (const [k, v] of Object.entries(config.resource)) attributes.push(k, v)
    attributes.push('telemetry.sdk.name', 'portcullis', 'telemetry.sdk.language', 'nodejs')
    this.resource = encodeAttributes(attributes)
    this.scope = JSON.stringify({ name: 'portcullis', version })
    this.prefix = Buffer.from(requestPrefix(this.resource, this.scope))
    const Agent = this.url.protocol === 'https:' ? https.Agent : http.Agent
    this.agent = new Agent({ keepAlive: true, maxSockets: 1 })
  }

  /** The URL spans are posted to. */
  get endpoint(): string {
    return this.url.href
  }

  /**
   * accepts tells whether a span would be queued now; when not, it counts the
   * drop, so the caller skips encoding a span that would be thrown away.
   */
  accepts(): boolean {
    if (!this.closed && this.queued < this.config.batch.maxQueue) return true
    this.stats.dropped++
    return false
  }

  /** writer is the batch the next span is written into (after accepts() said yes); then call added(). */
  writer(): SpanBatch {
    return (this.current ??= new SpanBatch(this.prefix, 64 * 1024))
  }

  /** added counts the span just written and sends the batch once it is full. */
  added(): void {
    const batch = this.current!
    this.queued++
    if (batch.count >= this.config.batch.maxSize) {
      this.full.push(batch)
      this.current = undefined
      this.sendSoon()
    } else this.timer ??= setTimeout(() => this.sendSoon(), this.config.batch.delay).unref()
  }

  /** flush sends everything queued now; resolves when it was sent or given up. */
  async flush(): Promise<void> {
    while (this.sending !== undefined || this.queued > 0) {
      if (this.sending === undefined) this.sendSoon()
      await this.sending
    }
  }

  /** close sends what is queued (bounded by the export timeout per batch) and stops. */
  async close(): Promise<void> {
    await this.flush()
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.agent.destroy()
  }

  private sendSoon(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (this.sending !== undefined) return
    let batch = this.full.shift()
    if (batch === undefined) {
      batch = this.current
      this.current = undefined
    }
    if (batch === undefined) return
    const spans = batch.count
    this.sending = this.sendBatch(batch.body(this.suffix), spans).finally(() => {
      this.sending = undefined
      this.queued -= spans
      if (this.closed) return
      if (this.full.length > 0) this.sendSoon()
      else if (this.current !== undefined)
        this.timer ??= setTimeout(() => this.sendSoon(), this.config.batch.delay).unref()
    })
  }

  private async sendBatch(json: Buffer, spans: number): Promise<void> {
    let body = json
    if (this.config.compression === 'gzip') body = await gzipped(body)
    for (let attempt = 1; ; attempt++) {
      const r = await this.post(body)
      if (r.status >= 200 && r.status < 300) {
        this.stats.exported += spans
        return
      }
      const retry = (r.status === 0 || RETRYABLE.has(r.status)) && attempt < MAX_ATTEMPTS && !this.closed
      this.stats.failedExports++
      if (tracingExportChannel.hasSubscribers)
        tracingExportChannel.publish({
          endpoint: this.url.href,
          spans: spans,
          status: r.status,
          retrying: retry,
          error: r.error,
        } satisfies TracingExportMessage)
      if (!retry) {
        this.stats.dropped += spans
        return
      }
      // Exponential backoff with jitter, or the collector's Retry-After, capped at 30 s.
      const wait = r.retryAfter ?? Math.random() * 250 * 2 ** attempt
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 30_000)).unref())
    }
  }

  private post(body: Buffer): Promise<{ status: number; error: string; retryAfter?: number }> {
    const headers: Record<string, string | number> = {
      ...this.config.headers,
      'content-type': 'application/json',
      'content-length': body.length,
    }
    if (this.config.compression === 'gzip') headers['content-encoding'] = 'gzip'
    const request = this.url.protocol === 'https:' ? https.request : http.request
    return new Promise((resolve) => {
      const req = request(this.url, {
        method: 'POST',
        headers,
        agent: this.agent,
        timeout: this.config.timeout,
      })
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.length < 16 && chunks.push(c))
        res.on('error', () => resolve({ status: 0, error: 'response aborted' }))
        res.on('end', () => {
          const status = res.statusCode ?? 0
          const seconds = Number(res.headers['retry-after'])
          const text = Buffer.concat(chunks).toString('utf8').slice(0, 300)
          resolve({
            status,
            error: status < 300 ? '' : `HTTP ${status} ${text}`,
            retryAfter: Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined,
          })
        })
      })
      req.on('timeout', () => req.destroy(new Error(`no answer in ${this.config.timeout} ms`)))
      req.on('error', (err) => resolve({ status: 0, error: err.message }))
      req.end(body)
    })
  }
}

/** tracesUrl adds OTLP's `/v1/traces` to an endpoint given without a path. */
export function tracesUrl(endpoint: string): URL {
  const url = new URL(endpoint)
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces'
  return url
}

function gzipped(body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => gzip(body, (err, out) => (err ? reject(err) : resolve(out))))
}
