/**
 * ClientReads: a plain-TCP client connection's reads into a buffer it owns
 * (ReadBuffer, own-read.ts), and the one decision that makes that safe: after
 * each read, whether anything still references its bytes, so the buffer is
 * lent and the next read takes a new one.
 */
import type net from 'node:net'
import { ReadBuffer } from '../http1/read-buffer.ts'
import type { ProxyExchange } from '../proxy/exchange.ts'
import { adoptWithOwnRead } from './own-read.ts'

/**
 * Read buffer sizes. The small one is what an idle keep-alive connection
 * holds after small requests, so it is what most request heads need and no
 * more: 10,000 held connections cost 10 MiB.
 */
const SMALL_READ = 1024
const LARGE_READ = 64 * 1024

/** The connection the reads belong to. */
export interface ReadOwner {
  /** Handles the bytes of one read. */
  onData(chunk: Buffer): void
  /** Whether the connection itself still references bytes it was given (unparsed bytes, a held body, the current exchange). */
  keepsReadBytes(): boolean
}

export class ClientReads {
  private readonly buf = new ReadBuffer(SMALL_READ, LARGE_READ)
  private readonly owner: ReadOwner
  /** An exchange that took body bytes of the current read, then was replaced, still holds them. */
  private kept = false
  /** The exchange that took body bytes of the current read. */
  private sink: ProxyExchange | null = null
  private reading = false
  /** After a 101: where the bytes go instead of the owner. */
  private tunnel: ((data: Buffer) => void) | null = null

  constructor(owner: ReadOwner) {
    this.owner = owner
  }

  /** adopt moves an accepted socket onto these reads; null when it must be used as it is (see own-read.ts). */
  adopt(accepted: net.Socket): net.Socket | null {
    return adoptWithOwnRead(accepted, {
      buffer: () => this.buf.next(),
      callback: (n, buf) => this.onRead(n, buf),
    })
  }

  /** lend marks the bytes of the current read as kept beyond it. */
  lend(): void {
    this.buf.lend()
  }

  /** tunnelTo sends every later read to `sink` (which lends what it keeps). */
  tunnelTo(sink: (data: Buffer) => void): void {
    this.tunnel = sink
  }

  /** noteSink records that `ex` took body bytes; only bytes of the read being handled matter. */
  noteSink(ex: ProxyExchange): void {
    const prev = this.sink
    if (prev === ex || !this.reading) return
    if (prev !== null && prev.keepsRequestBytes()) this.kept = true
    this.sink = ex
  }

  private onRead(n: number, buf: Buffer): boolean {
    const chunk = buf.subarray(0, n)
    if (this.tunnel !== null) {
      this.tunnel(chunk)
      return true
    }
    this.reading = true
    this.owner.onData(chunk)
    this.reading = false
    const sink = this.sink
    if (this.kept || (sink !== null && sink.keepsRequestBytes()) || this.owner.keepsReadBytes())
      this.buf.lend()
    this.kept = false
    this.sink = null
    // Large after a full read, small only after a short one: a connection
    // carrying POSTs keeps one buffer that takes each request in one read.
    this.buf.adapt(n, buf.length, false)
    return true
  }
}
