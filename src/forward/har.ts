/**
 * HAR 1.2 capture (http://www.softwareishard.com/blog/har-12-spec/): a
 * recorder whose hooks note each request and response head and timing, and
 * which writes a file a browser's devtools opens (Network, "Import HAR").
 * Authorization, Proxy-Authorization, Cookie and Set-Cookie values are
 * redacted by default. Bounded: at most `maxEntries` entries are kept (the
 * oldest dropped). Response bodies are captured up to `maxBodySize` bytes
 * each (`content.text`, decoded from gzip/deflate/br, base64 unless text;
 * a longer body is cut and says so in `content.comment`); with capture on,
 * a captured response is re-framed chunked (its bytes pass through a
 * stream). `maxBodySize: 0` captures none (sizes only, which HAR allows).
 * Request bodies are not captured (sizes only).
 *
 * ```ts
 * const har = new HarRecorder()
 * const gw = await createGateway(config, { hooks: har.hooks })
 * …
 * await har.write('capture.har')
 * ```
 * @experimental
 */
import { writeFile } from 'node:fs/promises'
import { Transform } from 'node:stream'
import zlib from 'node:zlib'
import { authorityOf } from './authority.ts'
import type { GatewayHooks } from '../core/hooks.ts'
import type { Session } from '../core/session.ts'

const REDACTED = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie'])

interface HarHeader {
  name: string
  value: string
}

/** Options of HarRecorder. */
export interface HarOptions {
  /** Entries kept, oldest dropped first; default 10,000. */
  maxEntries?: number
  /** Header names (lowercase) whose values are replaced by `[redacted]`. */
  redact?: readonly string[]
  /** Response body bytes kept per entry; default 64 KiB; 0: none. */
  maxBodySize?: number
}

/** A response body as captured: its first bytes, and how many there were in all. */
interface Captured {
  chunks: Buffer[]
  kept: number
  size: number
}

const TEXT_RE = /^text\/|[/+](json|xml|javascript|ecmascript)\b|^application\/x-www-form-urlencoded/i
const DECODE: Record<string, (b: Buffer) => Buffer> = {
  gzip: zlib.gunzipSync,
  'x-gzip': zlib.gunzipSync,
  deflate: zlib.inflateSync,
  br: zlib.brotliDecompressSync,
}

export class HarRecorder {
  /** The hooks to give the gateway (alone or with others). */
  readonly hooks: GatewayHooks
  private readonly entries: object[] = []
  private readonly responses = new WeakMap<
    Session,
    { status: number; reason: string; headers: HarHeader[] }
  >()
  private readonly bodies = new WeakMap<Session, Captured>()
  private readonly max: number
  private readonly maxBody: number
  private readonly redact: ReadonlySet<string>

  constructor(options: HarOptions = {}) {
    this.max = options.maxEntries ?? 10_000
    this.maxBody = options.maxBodySize ?? 64 * 1024
    this.redact = new Set(options.redact ?? REDACTED)
    const self = this
    this.hooks = {
      onResponse: function harResponse(session, res) {
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
        )
          res.bodyTransform = self.tap(session)
      },
      onLog: function harLog(session) {
        self.add(session)
      },
    }
  }

  /** The HAR document of what was recorded so far. */
  toJSON(): object {
    return {
      log: {
        version: '1.2',
        creator: { name: 'portcullis', version: '0.1' },
        pages: [],
        entries: this.entries,
      },
    }
  }

  /** write saves the HAR document to `path`. */
  write(path: string): Promise<void> {
    return writeFile(path, JSON.stringify(this.toJSON(), null, 1))
  }

  /** tap passes the body through, keeping its first maxBodySize bytes for the entry. */
  private tap(session: Session): Transform {
    const c: Captured = { chunks: [], kept: 0, size: 0 }
    this.bodies.set(session, c)
    const max = this.maxBody
    return new Transform({
      transform(chunk: Buffer, _enc, done) {
        c.size += chunk.length
        if (c.kept < max) {
          const part = chunk.length <= max - c.kept ? chunk : chunk.subarray(0, max - c.kept)
          c.chunks.push(Buffer.from(part)) // a copy: read buffers may be reused
          c.kept += part.length
        }
        done(null, chunk)
      },
    })
  }

  /** content: the HAR content object of a response, with its captured text when there is one. */
  private content(session: Session, headers: HarHeader[] | undefined): object {
    const field = (n: string) => headers?.find((h) => h.name.toLowerCase() === n)?.value
    const mimeType = field('content-type') ?? ''
    const c = this.bodies.get(session)
    if (c === undefined) return { size: -1, mimeType }
    let body: Buffer = Buffer.concat(c.chunks)
    const coding = field('content-encoding')?.trim().toLowerCase()
    const whole = c.kept === c.size
    let comment: string | undefined
    if (!whole) comment = `body cut at ${c.kept} of ${c.size} bytes`
    if (coding !== undefined && coding !== 'identity') {
      const decode = Object.hasOwn(DECODE, coding) ? DECODE[coding] : undefined
      try {
        if (decode === undefined || !whole) throw new Error('not decodable')
        body = decode(body)
      } catch {
        // A cut or unknown coding: the bytes as sent, base64.
        return {
          size: c.size,
          mimeType,
          text: body.toString('base64'),
          encoding: 'base64',
          comment: comment ?? `${coding} body`,
        }
      }
    }
    const text = TEXT_RE.test(mimeType)
      ? { text: body.toString('utf8') }
      : { text: body.toString('base64'), encoding: 'base64' }
    return {
      size: whole ? body.length : c.size,
      mimeType,
      ...text,
      ...(comment !== undefined && { comment }),
    }
  }

  private add(session: Session): void {
    if (session.method === 'CONNECT') return // the requests inside are the entries
    const res = this.responses.get(session)
    const t = session.timings
    const http = session.head.minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0'
    const wait = t.upstreamHead > 0 ? t.upstreamHead - (t.upstreamConnected || 0) : 0
    this.entries.push({
      startedDateTime: new Date(session.startedAt).toISOString(),
      time: t.end,
      request: {
        method: session.method,
        url: urlOf(session),
        httpVersion: http,
        cookies: [],
        headers: this.pairs(session.head.rawHeaders),
        queryString: queryOf(session.query),
        headersSize: -1,
        bodySize: session.bytesIn,
      },
      response: {
        status: res?.status ?? session.status,
        statusText: res?.reason ?? '',
        httpVersion: 'HTTP/1.1',
        cookies: [],
        headers: res?.headers ?? [],
        content: this.content(session, res?.headers),
        redirectURL: '',
        headersSize: -1,
        bodySize: -1,
      },
      cache: {},
      timings: { send: 0, wait: Math.max(0, wait), receive: Math.max(0, t.end - (t.upstreamHead || t.end)) },
      ...(session.error !== undefined && { comment: session.error.code }),
    })
    if (this.entries.length > this.max) this.entries.shift()
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
