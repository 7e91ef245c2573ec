/**
 * The schema of `tracing:` (docs/configuration.md, "tracing"): spans for
 * each request and each upstream try, exported with OpenTelemetry's OTLP
 * over HTTP (JSON encoding) in batches to a collector
 * (src/observe/tracing/). Absent, nothing is created or subscribed.
 */
import { z } from 'zod'
import { duration } from './unit-schemas.ts'

const endpoint = z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' })

export const tracingSchema = z.strictObject({
  /**
   * The collector's OTLP/HTTP traces URL, e.g. `http://otel-collector:4318/v1/traces`.
   * A URL with no path (`http://collector:4318`) gets `/v1/traces` added, as
   * OTEL_EXPORTER_OTLP_ENDPOINT does.
   */
  endpoint,
  /** `service.name` of the resource the spans belong to. */
  serviceName: z.string().min(1).default('portcullis'),
  /** More resource attributes (`deployment.environment: prod`). */
  resource: z.record(z.string(), z.string()).default({}),
  /** The share of new traces (requests without a sampled parent) that are recorded, 0 to 1. */
  sampleRatio: z.number().min(0).max(1).default(1),
  /**
   * Follow the caller's decision: a request whose valid `traceparent` says
   * sampled (flags 01) is recorded, one that says not sampled is not,
   * whatever `sampleRatio` says (OpenTelemetry's ParentBased sampler).
   * Off: the ratio decides for every request (the trace id is still kept).
   */
  parentBased: z.boolean().default(true),
  /** Fields sent with every export (a collector's API key: `authorization: Bearer ${OTEL_TOKEN}`). */
  headers: z
    .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a field name'), z.string())
    .default({}),
  /** Compress export bodies with gzip (Content-Encoding: gzip). */
  compression: z.enum(['gzip', 'none']).default('none'),
  /** How long one export request may take. */
  timeout: duration.default(10_000),
  batch: z
    .strictObject({
      /** Spans per export request. */
      maxSize: z.number().int().min(1).max(10_000).default(512),
      /** An incomplete batch is sent after this long. */
      delay: duration.default(5000),
      /** Spans held while exports are slow or failing; more are dropped (and counted). */
      maxQueue: z.number().int().min(1).max(1_000_000).default(4096),
    })
    .prefault({}),
})

/** The validated `tracing:` section. */
export type TracingConfig = z.output<typeof tracingSchema>
