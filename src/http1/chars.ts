/**
 * Character classes of RFC 9110 / RFC 9112 / RFC 3986 as lookup tables, for
 * the short strings checked on every message: the method, the request-target,
 * the Host value and the reason phrase. On strings of a few characters a
 * RegExp#test call costs more than the whole loop (the builtin entry, the
 * last-index bookkeeping); chars.test.ts checks each function against the
 * regular expression it replaces.
 *
 * The strings come from latin1-decoded bytes, so every char code is < 256.
 */

const TCHAR = 1
const TARGET = 2
const REASON = 4
const REG_NAME = 8
const DIGIT = 16

const CLASS = new Uint8Array(256)
for (let c = 0; c < 256; c++) {
  let k = 0
  // RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
  if (isAlnum(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c))) k |= TCHAR
  // RFC 9112 §3.2 with RFC 3986: a request-target is printable ASCII, no space,
  // and no `#`: a fragment is not part of it, and origins that drop `#…` read
  // another path than the one routed (`/admin#x`).
  if (c >= 0x21 && c <= 0x7e && c !== 0x23) k |= TARGET
  // RFC 9112 §4: reason-phrase = *( HTAB / SP / VCHAR / obs-text ).
  if (c === 0x09 || (c >= 0x20 && c !== 0x7f)) k |= REASON
  // RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ).
  if (isAlnum(c) || "-._~!$&'()*+,;=%".includes(String.fromCharCode(c))) k |= REG_NAME
  if (c >= 0x30 && c <= 0x39) k |= DIGIT
  CLASS[c] = k
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
}

function all(s: string, from: number, cls: number): boolean {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0xff || (CLASS[c]! & cls) === 0) return false
  }
  return true
}

/** isToken: RFC 9110 §5.6.2 token = 1*tchar. */
export function isToken(s: string): boolean {
  return s.length > 0 && all(s, 0, TCHAR)
}

/** isTargetText: one or more printable ASCII characters without space (RFC 9112 §3.2). */
export function isTargetText(s: string): boolean {
  return s.length > 0 && all(s, 0, TARGET)
}

/** isReasonPhrase: RFC 9112 §4 reason-phrase, possibly empty. */
export function isReasonPhrase(s: string): boolean {
  return all(s, 0, REASON)
}

const IP_LITERAL_HOST_RE = /^\[[0-9A-Fa-f:.]+\](?::\d*)?$/

/**
 * isHostValue: RFC 9110 §7.2 Host = uri-host [ ":" port ], where uri-host is
 * an IP literal in brackets or a reg-name (which covers IPv4 addresses). The
 * bracketed form is rare and left to a regular expression.
 */
export function isHostValue(s: string): boolean {
  if (s.charCodeAt(0) === 0x5b /* [ */) return IP_LITERAL_HOST_RE.test(s)
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x3a /* : */) return all(s, i + 1, DIGIT)
    if (c > 0xff || (CLASS[c]! & REG_NAME) === 0) return false
  }
  return true
}
