/**
 * RawClient: one client connection driven byte by byte, for tests that care
 * about what happens *between* responses — keep-alive, pipelining, 1xx,
 * framing per HTTP version, when the server closes. `rawRequest` in
 * gateway.ts collects until close; this reads one framed response at a time
 * from a connection that stays open.
 *
 * ```ts
 * const c = await RawClient.connect(gw.port, t)
 * c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
 * const res = await c.response()
 * assert.equal(res.status, 200)
 * assert.equal(await c.closedWithin(500), false)
 * ```
 */
import net from 'node:net'
import type { Cleanup } from './gateway.ts'

/** A 1xx response seen before the final one. */
export interface InterimResponse {
  status: number
  headers: Record<string, string>
}

/** One response read off the connection. */
export interface ClientResponse {
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string
  status: number
  reason: string
  /** Names as sent, alternating with values. */
  rawHeaders: string[]
  /** Lower-cased names; repeated fields joined with `, `. */
  headers: Record<string, string>
  body: Buffer
  /** How the body was delimited on the wire. */
  framing: 'none' | 'length' | 'chunked' | 'close'
  /** Raw trailer fields of a chunked body, alternating. */
  trailers: string[]
  /** 1xx responses that preceded this one. */
  interim: InterimResponse[]
}

export class RawClient {
  readonly socket: net.Socket
  /** True once the server's FIN (or a reset) arrived. */
  ended = false
  /** True once the socket closed. */
  closed = false
  /** True when the connection ended by an error (reset). */
  reset = false
  private buf: Buffer = Buffer.alloc(0)
  private wake: (() => void) | undefined

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d])
      this.notify()
    })
    socket.on('end', () => {
      this.ended = true
      this.notify()
    })
    socket.on('error', () => {
      this.reset = true
    })
    socket.on('close', () => {
      this.ended = true
      this.closed = true
      this.notify()
    })
  }

  /** connect opens a connection to 127.0.0.1:`port`; with `t`, it is destroyed when the test ends. */
  static connect(port: number, t?: Cleanup): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1')
      const client = new RawClient(socket)
      t?.after(() => socket.destroy())
      socket.once('connect', () => resolve(client))
      socket.once('error', reject)
    })
  }

  /** Bytes received and not yet consumed by `response()`. */
  get unread(): Buffer {
    return this.buf
  }

  /** write sends exact bytes (strings as latin1). */
  write(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes)
  }

  /**
   * response reads the next final response (collecting 1xx on the way).
   * `head: true` for a response to HEAD (no body whatever the fields say).
   * Rejects when the connection ends first or `timeout` ms (default 3000) pass.
   */
  async response(options: { head?: boolean; timeout?: number } = {}): Promise<ClientResponse> {
    const until = Date.now() + (options.timeout ?? 3000)
    const interim: InterimResponse[] = []
    for (;;) {
      const end = await this.until(
        () => indexOrNull(this.buf.indexOf('\r\n\r\n', 0, 'latin1')),
        until,
        'head',
      )
      const res = parseHead(this.buf.toString('latin1', 0, end))
      this.buf = this.buf.subarray(end + 4)
      if (res.status >= 100 && res.status < 200 && res.status !== 101) {
        interim.push({ status: res.status, headers: res.headers })
        continue
      }
      res.interim = interim
      await this.readBody(res, options.head === true, until)
      return res
    }
  }

  /** closedWithin resolves true when the server closes the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    const until = Date.now() + ms
    while (!this.ended) {
      if (!(await this.changed(until))) return false
    }
    return true
  }

  /** rest waits for the server to close (up to `ms`) and returns what was left unread. */
  async rest(ms = 2000): Promise<Buffer> {
    await this.closedWithin(ms)
    return this.buf
  }

  destroy(): void {
    this.socket.destroy()
  }

  private async readBody(res: ClientResponse, head: boolean, until: number): Promise<void> {
    const s = res.status
    if (head || s === 204 || s === 304 || s === 101) {
      res.framing = 'none'
      return
    }
    if (/\bchunked\b/i.test(res.headers['transfer-encoding'] ?? '')) {
      res.framing = 'chunked'
      await this.readChunked(res, until)
    } else if (res.headers['content-length'] !== undefined) {
      res.framing = 'length'
      const n = Number(res.headers['content-length'])
      await this.until(() => (this.buf.length >= n ? n : null), until, `body of ${n} bytes`)
      res.body = this.buf.subarray(0, n)
      this.buf = this.buf.subarray(n)
    } else {
      res.framing = 'close'
      await this.until(() => (this.ended ? true : null), until, 'close-delimited body')
      res.body = this.buf
      this.buf = Buffer.alloc(0)
    }
  }

  private async readChunked(res: ClientResponse, until: number): Promise<void> {
    const parts: Buffer[] = []
    for (;;) {
      const eol = await this.until(
        () => indexOrNull(this.buf.indexOf('\r\n', 0, 'latin1')),
        until,
        'chunk size',
      )
      const size = Number.parseInt(this.buf.toString('latin1', 0, eol).split(';')[0]!, 16)
      if (Number.isNaN(size)) throw new Error(`bad chunk size line: ${this.buf.toString('latin1', 0, eol)}`)
      if (size === 0) {
        const line = eol + 2
        const end = await this.until(
          () =>
            this.buf.toString('latin1', line, line + 2) === '\r\n'
              ? line
              : indexOrNull(this.buf.indexOf('\r\n\r\n', line, 'latin1')),
          until,
          'trailers',
        )
        if (end > line) {
          for (const l of this.buf.toString('latin1', line, end).split('\r\n')) {
            const i = l.indexOf(':')
            res.trailers.push(l.slice(0, i), l.slice(i + 1).trim())
          }
          this.buf = this.buf.subarray(end + 4)
        } else this.buf = this.buf.subarray(line + 2)
        res.body = Buffer.concat(parts)
        return
      }
      const need = eol + 2 + size + 2
      await this.until(() => (this.buf.length >= need ? true : null), until, 'chunk data')
      parts.push(this.buf.subarray(eol + 2, eol + 2 + size))
      if (this.buf.toString('latin1', need - 2, need) !== '\r\n')
        throw new Error('chunk not followed by CRLF')
      this.buf = this.buf.subarray(need)
    }
  }

  /** until waits for `probe` to return non-null; throws on close or timeout. */
  private async until<T>(probe: () => T | null, until: number, what: string): Promise<T> {
    for (;;) {
      const v = probe()
      if (v !== null) return v
      if (this.ended)
        throw new Error(`connection closed while waiting for ${what}; unread: ${this.preview()}`)
      if (!(await this.changed(until)))
        throw new Error(`timed out waiting for ${what}; unread: ${this.preview()}`)
    }
  }

  /** changed resolves true on the next socket event, false at `until`. */
  private changed(until: number): Promise<boolean> {
    const ms = until - Date.now()
    if (ms <= 0) return Promise.resolve(false)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined
        resolve(false)
      }, ms)
      this.wake = () => {
        clearTimeout(timer)
        resolve(true)
      }
    })
  }

  private notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private preview(): string {
    return JSON.stringify(this.buf.toString('latin1', 0, 200))
  }
}

function indexOrNull(i: number): number | null {
  return i === -1 ? null : i
}

function parseHead(text: string): ClientResponse {
  const lines = text.split('\r\n')
  const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]!)
  if (m === null) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`)
  const rawHeaders: string[] = []
  const headers: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':')
    const name = line.slice(0, i)
    const value = line.slice(i + 1).trim()
    rawHeaders.push(name, value)
    const l = name.toLowerCase()
    headers[l] = headers[l] === undefined ? value : `${headers[l]}, ${value}`
  }
  return {
    version: m[1]!,
    status: Number(m[2]),
    reason: m[3] ?? '',
    rawHeaders,
    headers,
    body: Buffer.alloc(0),
    framing: 'none',
    trailers: [],
    interim: [],
  }
}
