/**
 * HAR 1.2 capture (http://www.softwareishard.com/blog/har-12-spec/): a
 * recorder whose hooks note each request and response head and timing, and
 * which writes a file a browser's devtools opens (Network, "Import HAR").
 * Authorization, Proxy-Authorization, Cookie and Set-Cookie values are
 * redacted by default. Bounded: at most `maxEntries` entries are kept (the
 * oldest dropped). Bodies are not captured (sizes only): `content.text` is
 * absent, which the format allows.
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
}

export class HarRecorder {
  /** The hooks to give the gateway (alone or with others). */
  readonly hooks: GatewayHooks
  private readonly entries: object[] = []
  private readonly responses = new WeakMap<
    Session,
    { status: number; reason: string; headers: HarHeader[] }
  >()
  private readonly max: number
  private readonly redact: ReadonlySet<string>

  constructor(options: HarOptions = {}) {
    this.max = options.maxEntries ?? 10_000
    this.redact = new Set(options.redact ?? REDACTED)
    const self = this
    this.hooks = {
      onResponse: function harResponse(session, res) {
        self.responses.set(session, {
          status: res.status,
          reason: res.reason,
          headers: self.pairs(res.headers.raw),
        })
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
        content: {
          size: -1,
          mimeType: res?.headers.find((h) => h.name.toLowerCase() === 'content-type')?.value ?? '',
        },
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
