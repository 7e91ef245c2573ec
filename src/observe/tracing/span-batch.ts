/**
 * SpanBatch is one export request's body, written while spans end: each
 * span's OTLP/JSON is built as a string and written into a Buffer when the
 * span ends, so queued spans live outside the JavaScript heap and the
 * strings die young. Queued as strings, they survived scavenges (2 MB
 * semi-spaces under the gateway's flags) and were copied again and again:
 * bench/tracing-cost.sh measured about 2.6 times the CPU per small GET, 1.7
 * with the Buffer. Writing each piece with its own Buffer.write instead cost
 * a third of bench/tracing-spans.ts's time in the binding.
 *
 * The encoding (opentelemetry-proto, "JSON Protobuf Encoding"): ids as hex
 * strings, enums as numbers, 64-bit integers as decimal strings.
 */

/** Status.StatusCode ERROR (UNSET, 0, is the default and left out). */
const STATUS_ERROR = 2

export class SpanBatch {
  private buf: Buffer
  private length: number
  /** Spans in the batch. */
  count = 0

  /** `prefix` is the request up to the spans array's `[` (otlp-json.ts, requestPrefix). */
  constructor(prefix: Buffer, capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(capacity, prefix.length * 2))
    this.length = prefix.copy(this.buf, 0)
  }

  /** beginSpan writes a span's identity and times; attributes follow, then endSpan. */
  beginSpan(
    traceId: string,
    spanId: string,
    parentSpanId: string | undefined,
    name: string,
    kind: number,
    startMs: number,
    endMs: number,
  ): void {
    this.raw(this.count === 0 ? '{"traceId":"' : ',{"traceId":"')
    this.raw(traceId)
    this.raw('","spanId":"')
    this.raw(spanId)
    if (parentSpanId !== undefined) {
      this.raw('","parentSpanId":"')
      this.raw(parentSpanId)
    }
    this.raw('","name":')
    this.str(name)
    this.raw(',"kind":')
    this.raw(kind === 2 ? '2' : '3')
    this.raw(',"startTimeUnixNano":"')
    this.nanos(startMs)
    this.raw('","endTimeUnixNano":"')
    this.nanos(Math.max(endMs, startMs))
    this.raw('","attributes":[')
    this.first = true
  }

  /** attr writes a string attribute; `key` is a plain ASCII name. Nothing when undefined. */
  attr(key: string, value: string | undefined): void {
    if (value === undefined) return
    this.key(key)
    this.raw('{"stringValue":')
    this.str(value)
    this.raw('}}')
  }

  /** int writes an integer attribute (an intValue, as a decimal string). Nothing when undefined. */
  int(key: string, value: number | undefined): void {
    if (value === undefined) return
    this.key(key)
    this.raw('{"intValue":"')
    this.raw(String(value))
    this.raw('"}}')
  }

  /** endSpan closes the attributes and the span, with status ERROR and `error` as its message when set. */
  endSpan(error: string | undefined): void {
    this.raw(']')
    if (error !== undefined) {
      this.raw(',"status":{"code":' + STATUS_ERROR + ',"message":')
      this.str(error)
      this.raw('}')
    }
    this.raw('}')
    // One write per span: a Buffer.write per piece cost more than the pieces.
    const text = this.text
    this.text = ''
    this.room(text.length * 3)
    this.length += this.buf.write(text, this.length, 'utf8')
    this.count++
  }

  /** body returns the whole request, `suffix` closing the arrays and objects. */
  body(suffix: Buffer): Buffer {
    this.room(suffix.length)
    const end = this.length + suffix.copy(this.buf, this.length)
    return this.buf.subarray(0, end)
  }

  private first = true
  /** The span being written, as text until endSpan (short-lived: it dies young). */
  private text = ''

  private key(key: string): void {
    this.raw(this.first ? '{"key":"' : ',{"key":"')
    this.first = false
    this.raw(key)
    this.raw('","value":')
  }

  /** raw appends ASCII text as is. */
  private raw(s: string): void {
    this.text += s
  }

  /** str writes a JSON string: as is between quotes when nothing needs escaping, else JSON.stringify's. */
  private str(s: string): void {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) {
        this.text += JSON.stringify(s)
        return
      }
    }
    this.text += '"' + s + '"'
  }

  /** nanos writes epoch milliseconds as decimal nanoseconds (beyond 2^53, so built from two parts). */
  private nanos(ms: number): void {
    let whole = Math.floor(ms)
    let ns = Math.round((ms - whole) * 1e6)
    if (ns >= 1e6) {
      whole++
      ns = 0
    }
    this.raw(String(whole))
    this.raw(ns === 0 ? '000000' : String(ns).padStart(6, '0'))
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.length + n))
    this.buf.copy(next, 0, 0, this.length)
    this.buf = next
  }
}
