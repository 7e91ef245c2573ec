/**
 * Configuration of response compression: the top-level `compression` block
 * and a route's `compress` override (docs/configuration.md, "compression").
 * Off by default, as nginx's `gzip` and Caddy's `encode` are: compression
 * costs CPU on every response, changes ETags and bytes a client sees, and an
 * upstream may already compress, so an operator turns it on knowingly.
 */
import { z } from 'zod'
import { size } from '../unit-schemas.ts'

/** The content codings Portcullis can produce, in its default preference order. */
export const ENCODINGS = ['br', 'zstd', 'gzip'] as const
export type Encoding = (typeof ENCODINGS)[number]

/**
 * Media types compressed by default: text, and the structured or font formats
 * that are text or compress well (Caddy's `encode` list, trimmed of aliases).
 * `text/*` does not match `text/event-stream` (see types.ts). Newline-delimited
 * JSON is left out on purpose: it is usually streamed, and a compressor holds
 * bytes back until its window fills.
 */
export const DEFAULT_TYPES: readonly string[] = [
  'text/*',
  'application/javascript',
  'application/x-javascript',
  'application/json',
  'application/*+json',
  'application/xml',
  'application/*+xml',
  'application/wasm',
  'application/vnd.ms-fontobject',
  'font/ttf',
  'font/otf',
  'image/svg+xml',
  'image/x-icon',
  'image/vnd.microsoft.icon',
  'image/bmp',
]

/** `type/subtype`, `type/*` or `type/*+suffix` (a type may be `*` too); matched case-insensitively. */
const mediaRange = z
  .string()
  .regex(
    /^(\*|[a-z0-9!#$&^_.+-]+)\/(\*|\*\+[a-z0-9!#$&^_.+-]+|[a-z0-9!#$&^_.+-]+)$/i,
    'must be a media type like text/html, text/*, application/*+json or */*',
  )
  .transform((s) => s.toLowerCase())

const encodingList = z
  .array(z.enum(ENCODINGS))
  .min(1)
  .refine((l) => new Set(l).size === l.length, { message: 'lists an encoding twice' })

const levels = {
  /** zlib level 1–9; 6 is zlib's default balance of speed and size. */
  gzip: z.number().int().min(1).max(9),
  /** Brotli quality 0–11; 4 compresses better than gzip 6 at about its speed, 5+ is several times slower. */
  brotli: z.number().int().min(0).max(11),
  /** zstd level 1–19; above 19 the window exceeds the 8 MB HTTP decoders must support (RFC 9659 §3). */
  zstd: z.number().int().min(1).max(19),
}

/** The top-level `compression` block. */
export const compressionSchema = z
  .strictObject({
    /** Compress responses on every route (a route's `compress` overrides this). */
    enabled: z.boolean().default(false),
    /** Codings offered, in server preference order (used when the client's q-values tie). */
    encodings: encodingList.default([...ENCODINGS]),
    /** Responses with a known length below this are sent as they are; unknown lengths are compressed. */
    minSize: size.default(1024),
    /** Media types compressed; anything else is sent as it is. */
    types: z.array(mediaRange).default([...DEFAULT_TYPES]),
    level: z
      .strictObject({
        gzip: levels.gzip.default(6),
        brotli: levels.brotli.default(4),
        zstd: levels.zstd.default(3),
      })
      .prefault({}),
  })
  .prefault({})

/**
 * A route's `compress`: `true` turns compression on with the top-level
 * settings, `false` off; an object turns it on (unless it says
 * `enabled: false`) and replaces the top-level keys it names (`level` key by key).
 */
export const routeCompressSchema = z.union([
  z.boolean(),
  z.strictObject({
    enabled: z.boolean().optional(),
    encodings: encodingList.optional(),
    minSize: size.optional(),
    types: z.array(mediaRange).optional(),
    level: z
      .strictObject({
        gzip: levels.gzip.optional(),
        brotli: levels.brotli.optional(),
        zstd: levels.zstd.optional(),
      })
      .optional(),
  }),
])

export type CompressionConfig = z.output<typeof compressionSchema>
export type RouteCompressConfig = z.output<typeof routeCompressSchema>

/**
 * effectiveCompression merges a route's `compress` over the top-level block;
 * undefined when compression is off for the route.
 */
export function effectiveCompression(
  global: CompressionConfig,
  route: RouteCompressConfig | undefined,
): CompressionConfig | undefined {
  if (route === undefined) return global.enabled ? global : undefined
  if (route === false) return undefined
  if (route === true) return { ...global, enabled: true }
  if (route.enabled === false) return undefined
  return {
    enabled: true,
    encodings: route.encodings ?? global.encodings,
    minSize: route.minSize ?? global.minSize,
    types: route.types ?? global.types,
    level: {
      gzip: route.level?.gzip ?? global.level.gzip,
      brotli: route.level?.brotli ?? global.level.brotli,
      zstd: route.level?.zstd ?? global.level.zstd,
    },
  }
}
