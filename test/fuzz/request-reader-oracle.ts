/**
 * The properties every fuzz input must satisfy, checked by checkCase:
 * no exception escapes the reader; whole, split and byte-by-byte feeding
 * observe the same thing; each completed message's body is exactly the bytes
 * its framing delimits (checked against an independent, naive decoder); and
 * every accepted message survives serialise-then-parse unchanged.
 */
import type { RequestHead } from '../../src/http1/request-head.ts'
import { observeRequestReader, type ReaderObservation } from '../helpers/observe-request-reader.ts'
import { bytewise, type FuzzCase, type Rng, splitRandomly, view } from './request-reader-fuzz.ts'

/** The verdict on one input: the first violated property, if any, and what the reader made of it. */
export interface CaseResult {
  problem: string | undefined
  /** Messages completed when fed whole. */
  completed: number
  refused: boolean
}

/** checkCase feeds one input every way and checks every property. */
export function checkCase(c: FuzzCase, rng: Rng, withBytewise: boolean): CaseResult {
  let whole: ReaderObservation
  try {
    whole = observeRequestReader([c.input], c.limits)
  } catch (err) {
    return { problem: `exception escaped (whole): ${String(err)}`, completed: 0, refused: false }
  }
  const completed = whole.messages.filter((m) => m.complete).length
  return { problem: findProblem(c, whole, rng, withBytewise), completed, refused: whole.error !== undefined }
}

function findProblem(
  c: FuzzCase,
  whole: ReaderObservation,
  rng: Rng,
  withBytewise: boolean,
): string | undefined {
  const expected = view(whole)
  const feeds: [string, Buffer[]][] = [['split', splitRandomly(c.input, rng)]]
  if (withBytewise) feeds.push(['byte-by-byte', bytewise(c.input)])
  for (const [how, pieces] of feeds) {
    let obs: ReaderObservation
    try {
      obs = observeRequestReader(pieces, c.limits)
    } catch (err) {
      return `exception escaped (${how}): ${String(err)}`
    }
    const got = view(obs)
    if (got !== expected) {
      const cuts = pieces.map((p) => p.length).join(',')
      return `${how} feeding differs from whole\n  whole: ${expected}\n  ${how}: ${got}\n  piece sizes: ${cuts}`
    }
  }
  try {
    return checkFraming(c.input, whole) ?? checkRoundTrip(whole)
  } catch (err) {
    return `exception escaped (round trip): ${String(err)}`
  }
}

/**
 * checkFraming walks the input message by message with a naive reference
 * decoder and checks that each completed body is exactly the delimited bytes.
 */
function checkFraming(input: Buffer, obs: ReaderObservation): string | undefined {
  let offset = 0
  for (let i = 0; i < obs.messages.length; i++) {
    const m = obs.messages[i]!
    const head = obs.heads[i]!
    if (!input.toString('latin1', offset, offset + head.size).endsWith('\r\n\r\n')) {
      return `message ${i}: head of ${head.size} bytes at ${offset} does not end with CRLFCRLF`
    }
    const bodyStart = offset + head.size
    if (!m.complete) return undefined
    if (head.chunked) {
      const ref = referenceChunked(input, bodyStart)
      if (ref === undefined) return `message ${i}: accepted chunked body the reference decoder cannot delimit`
      if (m.body !== ref.data)
        return `message ${i}: chunked body ${JSON.stringify(m.body)} != ${JSON.stringify(ref.data)}`
      if (obs.bodyLengths[i] !== ref.data.length)
        return `message ${i}: ${obs.bodyLengths[i]} body bytes, chunks say ${ref.data.length}`
      offset = ref.end
    } else {
      const length = Math.max(head.contentLength, 0)
      const data = input.toString('latin1', bodyStart, bodyStart + length)
      if (m.body !== data || obs.bodyLengths[i] !== length) {
        return `message ${i}: ${obs.bodyLengths[i]} body bytes delivered, Content-Length says ${length}`
      }
      offset = bodyStart + length
    }
  }
  return undefined
}

/** A deliberately naive chunked decoder: sizes from each line, data, skip trailers. */
function referenceChunked(input: Buffer, pos: number): { data: string; end: number } | undefined {
  let data = ''
  for (;;) {
    const eol = input.indexOf('\r\n', pos)
    if (eol === -1) return undefined
    const size = Number.parseInt(input.toString('latin1', pos, eol).split(';')[0]!, 16)
    if (Number.isNaN(size)) return undefined
    pos = eol + 2
    if (size === 0) break
    data += input.toString('latin1', pos, pos + size)
    pos += size + 2
  }
  for (;;) {
    const eol = input.indexOf('\r\n', pos)
    if (eol === -1) return undefined
    if (eol === pos) return { data, end: eol + 2 }
    pos = eol + 2
  }
}

/** checkRoundTrip serialises each completed message and parses it again: the same message must come back. */
function checkRoundTrip(obs: ReaderObservation): string | undefined {
  for (let i = 0; i < obs.messages.length; i++) {
    const m = obs.messages[i]!
    if (!m.complete) continue
    const bytes = serialise(obs.heads[i]!, m.body, m.trailers)
    // Default limits: the canonical form may be a few bytes longer ("name: value") than a tight limit allows.
    const after = view(observeRequestReader([bytes]), false)
    const expected = view(onlyMessage(obs, i), false)
    if (after !== expected) {
      return `message ${i} does not round-trip\n  serialised: ${JSON.stringify(bytes.toString('latin1'))}\n  first:  ${expected}\n  second: ${after}`
    }
  }
  return undefined
}

function onlyMessage(obs: ReaderObservation, i: number): ReaderObservation {
  return { messages: [obs.messages[i]!], heads: [obs.heads[i]!], bodyLengths: [obs.bodyLengths[i]!] }
}

/** serialise writes a head and body back in canonical form: single SP, `name: value`, one chunk. */
function serialise(head: RequestHead, body: string, trailers: string[] | undefined): Buffer {
  const target =
    head.absoluteAuthority === undefined
      ? head.target
      : `${head.absoluteScheme}://${head.absoluteAuthority}${head.target}`
  let text = `${head.method} ${target} HTTP/1.${head.minor}\r\n`
  for (let j = 0; j < head.rawHeaders.length; j += 2)
    text += `${head.rawHeaders[j]}: ${head.rawHeaders[j + 1]}\r\n`
  text += '\r\n'
  if (head.chunked) {
    if (body.length > 0) text += `${body.length.toString(16)}\r\n${body}\r\n`
    text += '0\r\n'
    for (let j = 0; trailers !== undefined && j < trailers.length; j += 2)
      text += `${trailers[j]}: ${trailers[j + 1]}\r\n`
    text += '\r\n'
  } else {
    text += body
  }
  return Buffer.from(text, 'latin1')
}
