/**
 * ResponseReader finds the end of each HTTP/1.1 response on a client socket:
 * just enough framing for the benchmark's clients (Content-Length, or a
 * chunked body ending in the zero chunk with no trailers).
 */
export class ResponseReader {
  private pending: Buffer | undefined
  private bodyLeft = 0
  private inBody = false
  private chunked = false
  private status = 0
  private readonly onResponse: (status: number) => void

  constructor(onResponse: (status: number) => void) {
    this.onResponse = onResponse
  }

  push(data: Buffer): void {
    let buf = this.pending === undefined ? data : Buffer.concat([this.pending, data])
    this.pending = undefined
    while (buf.length > 0) {
      if (this.inBody) {
        buf = this.chunked ? this.chunkedBody(buf) : this.lengthBody(buf)
        continue
      }
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) {
        this.pending = buf
        return
      }
      const head = buf.toString('latin1', 0, end)
      buf = buf.subarray(end + 4)
      this.status = Number(head.slice(9, 12))
      this.chunked = /\r\ntransfer-encoding:[^\r]*chunked/i.test(head)
      this.bodyLeft = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0)
      this.inBody = this.chunked || this.bodyLeft > 0
      if (!this.inBody) this.onResponse(this.status)
    }
  }

  private lengthBody(buf: Buffer): Buffer {
    const take = Math.min(this.bodyLeft, buf.length)
    this.bodyLeft -= take
    if (this.bodyLeft === 0) this.done()
    return buf.subarray(take)
  }

  private chunkedBody(buf: Buffer): Buffer {
    const end = buf.indexOf('0\r\n\r\n')
    if (end < 0) {
      // Keep the tail that may hold the start of the terminator.
      this.pending = buf.subarray(Math.max(0, buf.length - 4))
      return Buffer.alloc(0)
    }
    this.done()
    return buf.subarray(end + 5)
  }

  private done(): void {
    this.inBody = false
    this.onResponse(this.status)
  }
}
