/**
 * Building blocks of the request corpus: the entry type, the table of
 * intended differences from node:http (mirrored, one heading per id, in
 * DIFFERENCES.md) and small builders that keep the family files readable.
 */

/** What Portcullis must do with an entry whose behaviour intentionally differs from node:http. */
export type ExpectedOutcome = 'accept' | number

/** One request (or pipelined sequence) of the corpus. */
export interface CorpusEntry {
  /** Unique, `family: variant`. */
  name: string
  /** The bytes on the wire; strings are latin1, one char per byte. */
  raw: string | Buffer
  /** Why Portcullis intentionally differs from node:http here (starts with a DIFFERENCES id). */
  difference?: string
  /**
   * With `difference`: Portcullis accepts the whole stream, or refuses it with
   * this status; node:http must decide otherwise or refuse with another status.
   */
  portcullis?: ExpectedOutcome
}

/**
 * The intended differences. Each id is a heading in DIFFERENCES.md, where the
 * RFC reasoning is spelled out; the differential test checks both stay in step.
 */
export const DIFFERENCES = {
  D01: 'D01 extension method: Portcullis forwards any token method (RFC 9110 §9.1, §16.1); llhttp knows a fixed list',
  D02: 'D02 duplicate Host: RFC 9112 §3.2 requires 400 for more than one Host field line',
  D03: 'D03 invalid Host: RFC 9112 §3.2 requires 400 for a Host whose value is not a valid uri-host[:port]',
  D04: 'D04 HTTP version: only HTTP/1.0 and HTTP/1.1 are spoken on this engine, others get 505 (RFC 9110 §15.6.6)',
  D05: 'D05 HTTP/0.9: a request line without HTTP-version is refused (RFC 9112 §3, Appendix C.1)',
  D06: 'D06 asterisk-form: the target is exactly "*" and only with OPTIONS (RFC 9112 §3.2.4)',
  D07: 'D07 absolute-form scheme: a gateway target must be http or https (RFC 9110 §4.2, RFC 9112 §3.2.2)',
  D08: 'D08 transfer coding: anything but a single final chunked is refused, 501 (RFC 9112 §6.1)',
  D09: 'D09 Transfer-Encoding in HTTP/1.0: framing is faulty, refused (RFC 9112 §6.1)',
  D10: 'D10 Expect: an unknown expectation is forwarded, not answered with 417 (RFC 9110 §10.1.1 MAY)',
  D11: 'D11 field count: more than 100 field lines is refused with 431 (RFC 6585 §5); node only truncates',
  D12: 'D12 target length: a request-target over 8192 bytes is refused with 414 (RFC 9112 §3, RFC 9110 §15.5.15)',
  D13: 'D13 empty lines before the request line: up to 5 CRLF are skipped; a bare CR, a bare LF or more lines are refused (RFC 9112 §2.2)',
  D14: 'D14 bounded numerals: Content-Length over 15 digits or chunk-size over 13 hex digits is refused (RFC 9110 §8.6)',
  D15: 'D15 chunk extensions must match chunk-ext exactly: token name, token or quoted-string value (RFC 9112 §7.1.1)',
  D16: 'D16 absolute-form authority: userinfo or an empty host is refused (RFC 9110 §4.2.1, §4.2.4)',
  D17: 'D17 request-line separators: exactly one SP between method, target and version (RFC 9112 §3)',
  D18: 'D18 Transfer-Encoding list: OWS (HTAB too) and empty list members are ignored (RFC 9110 §5.5, §5.6.1)',
  D19: 'D19 chunk extension size: over 4 KiB on one chunk line is refused with 400 (node: 16 KiB per message, 413)',
  D20: 'D20 trailer section size: over 16 KiB is refused with 400 (node counts it as head, 431)',
  D21: 'D21 fragment: a request-target with "#" is refused with 400 (RFC 9112 §3.2: the target has no fragment)',
} as const

export type DifferenceId = keyof typeof DIFFERENCES

/** The default Host of the corpus. */
export const HOST = 'Host: example.com'

/** req builds `line CRLF (field CRLF)* CRLF body`. */
export function req(line: string, fields: readonly string[] = [HOST], body = ''): string {
  let out = `${line}\r\n`
  for (const field of fields) out += `${field}\r\n`
  return `${out}\r\n${body}`
}

/** get is a plain GET of `target` with a Host and any extra fields. */
export function get(target = '/', extra: readonly string[] = []): string {
  return req(`GET ${target} HTTP/1.1`, [HOST, ...extra])
}

/** post is a POST with a Content-Length body. */
export function post(body: string, extra: readonly string[] = []): string {
  return req('POST /submit HTTP/1.1', [HOST, `Content-Length: ${body.length}`, ...extra], body)
}

/** chunkedPost is a POST whose body is the given (already chunked) text. */
export function chunkedPost(chunkedBody: string, extra: readonly string[] = []): string {
  return req('POST /upload HTTP/1.1', [HOST, 'Transfer-Encoding: chunked', ...extra], chunkedBody)
}

/** hex of a byte, for readable names. */
export function hex(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')}`
}

/** A family is a named list of [variant, raw] pairs plus, optionally, a difference for all of them. */
export class Family {
  readonly entries: CorpusEntry[] = []
  private readonly family: string

  constructor(family: string) {
    this.family = family
  }

  /** add records an entry both parsers must agree on. */
  add(variant: string, raw: string | Buffer): this {
    this.entries.push({ name: `${this.family}: ${variant}`, raw })
    return this
  }

  /** differs records an entry where Portcullis intentionally does `outcome` instead. */
  differs(variant: string, raw: string | Buffer, id: DifferenceId, outcome: ExpectedOutcome): this {
    this.entries.push({
      name: `${this.family}: ${variant}`,
      raw,
      difference: DIFFERENCES[id],
      portcullis: outcome,
    })
    return this
  }
}
